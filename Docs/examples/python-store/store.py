#!/usr/bin/env python3
"""A complete Gatehouse store plugin in Python, standard library only, persisted with sqlite3.

It implements every store method of Docs/plugin-protocol.md and passes the same conformance suite as the
bundled stores (Tests/HostTests/StoreConformanceTests.swift). Start from it to put clients in your own
database. Config: {"path": "/path/to/clients.db"}.
"""
import base64
import hashlib
import hmac
import json
import os
import re
import secrets as random_source
import sqlite3
import sys
import time

NAME, VERSION = "python-store", "1.0.0"
SCHEME = "sha256-salted-v1"
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,127}$")
SCOPE_PATTERN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")
DECOY = f"{SCHEME}${'W' * 22}${'A' * 43}"


class RPCError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code, self.message = code, message


def b64(data):
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_verifier(secret):
    salt = os.urandom(16)
    return f"{SCHEME}${b64(salt)}${b64(hashlib.sha256(salt + secret.encode()).digest())}"


def matches(secret, verifier):
    try:
        scheme, salt, digest = verifier.split("$")
        if scheme != SCHEME:
            return False
        return hmac.compare_digest(hashlib.sha256(unb64(salt) + secret.encode()).digest(), unb64(digest))
    except ValueError:
        return False


def check_secret(secret):
    if not isinstance(secret, str) or len(secret) < 32 or len(set(secret)) < 10 or len(secret) > 512:
        raise RPCError(1003, "secret is too weak: use at least 32 random characters")


class Store:
    def __init__(self, path):
        os.makedirs(os.path.dirname(os.path.abspath(path)), mode=0o700, exist_ok=True)
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.execute("PRAGMA synchronous = FULL")
        self.db.execute("CREATE TABLE IF NOT EXISTS clients (id TEXT PRIMARY KEY, doc TEXT NOT NULL)")
        self.db.execute("CREATE TABLE IF NOT EXISTS revocations (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
                        "jti TEXT UNIQUE, client_id TEXT, expires_at INTEGER)")

    # Each client is one JSON document; its "verifiers" never leave this process.
    def load(self, client_id):
        row = self.db.execute("SELECT doc FROM clients WHERE id = ?", (client_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def save(self, doc):
        self.db.execute("INSERT OR REPLACE INTO clients (id, doc) VALUES (?, ?)", (doc["id"], json.dumps(doc)))

    @staticmethod
    def public(doc):
        out = {k: v for k, v in doc.items() if k != "verifiers"}
        out["secrets"] = [{k: v for k, v in s.items() if k != "verifier"} for s in doc["verifiers"]]
        return out

    @staticmethod
    def validate(doc):
        if not isinstance(doc.get("id"), str) or not ID_PATTERN.match(doc["id"]):
            raise RPCError(1006, "invalid client id")
        for key in ("allowedScopes", "defaultScopes"):
            if not all(isinstance(s, str) and SCOPE_PATTERN.match(s) for s in doc.get(key, [])):
                raise RPCError(1006, f"invalid scope in {key}")
        if not set(doc.get("defaultScopes", [])) <= set(doc.get("allowedScopes", [])):
            raise RPCError(1006, "default scopes must be allowed scopes")
        lifetime = doc.get("tokenLifetime")
        if lifetime is not None and not (isinstance(lifetime, int) and 1 <= lifetime <= 31536000):
            raise RPCError(1006, "token lifetime must be 1 to 31536000 seconds")

    def modify(self, client_id, change):
        self.db.execute("BEGIN IMMEDIATE")
        try:
            doc = self.load(client_id)
            if doc is None:
                raise RPCError(1002, f"no client '{client_id[:128]}'")
            change(doc)
            self.validate(doc)
            doc["updatedAt"] = int(time.time())
            self.save(doc)
            self.db.execute("COMMIT")
            return {"client": self.public(doc)}
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    # --- methods ---
    def authenticate(self, p):
        client_id, secret, now = p["clientId"], p["secret"], int(time.time())
        doc = self.load(client_id) if isinstance(client_id, str) and ID_PATTERN.match(client_id) else None
        verifiers = [s["verifier"] for s in (doc or {}).get("verifiers", []) if s.get("expiresAt") is None or s["expiresAt"] > now]
        verifiers += [DECOY] * max(0, 2 - len(verifiers))
        matched = False
        for verifier in verifiers:  # Same work whether the client exists or not.
            matched = matches(secret, verifier) or matched
        if doc is None:
            return {"authenticated": False, "reason": "unknown_client"}
        if not matched:
            return {"authenticated": False, "reason": "wrong_secret"}
        if not doc["enabled"]:
            return {"authenticated": False, "reason": "disabled"}
        doc["lastUsedAt"] = now
        self.save(doc)
        return {"authenticated": True, "client": self.public(doc)}

    def get(self, p):
        doc = self.load(p["clientId"])
        return {"client": self.public(doc) if doc else None}

    def create(self, p):
        client, now = dict(p["client"]), int(time.time())
        check_secret(p["secret"])
        doc = {"id": client.get("id"), "name": client.get("name", ""), "role": client.get("role", ""),
               "allowedScopes": client.get("allowedScopes", []), "defaultScopes": client.get("defaultScopes", []),
               "enabled": client.get("enabled", True), "createdAt": now, "updatedAt": now,
               # A new instance per creation: tokens of a removed client with the same id stay void.
               "instance": random_source.token_urlsafe(12),
               "verifiers": [{"verifier": make_verifier(p["secret"]), "createdAt": now}]}
        if client.get("tokenLifetime") is not None:
            doc["tokenLifetime"] = client["tokenLifetime"]
        self.validate(doc)
        try:
            self.db.execute("INSERT INTO clients (id, doc) VALUES (?, ?)", (doc["id"], json.dumps(doc)))
        except sqlite3.IntegrityError:
            raise RPCError(1001, f"client '{doc['id']}' already exists")
        return {"client": self.public(doc)}

    def update(self, p):
        now = int(time.time())

        def change(doc):
            for key in ("name", "role", "allowedScopes", "defaultScopes"):
                if key in p:
                    doc[key] = p[key]
            if "tokenLifetime" in p:
                doc.pop("tokenLifetime", None)
                if p["tokenLifetime"]:
                    doc["tokenLifetime"] = p["tokenLifetime"]
            if "enabled" in p:
                if doc["enabled"] and not p["enabled"]:
                    doc["notBefore"] = now + 1  # Token times are whole seconds: cover this one too.
                doc["enabled"] = p["enabled"]
        return self.modify(p["clientId"], change)

    def delete(self, p):
        return {"deleted": self.db.execute("DELETE FROM clients WHERE id = ?", (p["clientId"],)).rowcount > 0}

    def list(self, p):
        limit = p.get("limit", 100)
        if not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise RPCError(-32602, "limit must be 1...1000")
        after = unb64(p["cursor"]).decode() if p.get("cursor") else ""
        rows = self.db.execute("SELECT doc FROM clients WHERE id > ? ORDER BY id LIMIT ?", (after, limit + 1)).fetchall()
        clients = [self.public(json.loads(r[0])) for r in rows[:limit]]
        return {"clients": clients, "nextCursor": b64(clients[-1]["id"].encode()) if len(rows) > limit else None}

    def rotate_secret(self, p):
        check_secret(p["secret"])
        now, grace = int(time.time()), p.get("graceSeconds", 0)

        def change(doc):
            kept = []
            for s in doc["verifiers"]:
                end = min(s.get("expiresAt") or now + grace, now + grace)
                if end > now:
                    kept.append({**s, "expiresAt": end})
            doc["verifiers"] = kept + [{"verifier": make_verifier(p["secret"]), "createdAt": now}]
        return self.modify(p["clientId"], change)

    def set_not_before(self, p):
        return self.modify(p["clientId"], lambda doc: doc.__setitem__("notBefore", p["notBefore"]))

    def revoke(self, p):
        self.db.execute("DELETE FROM revocations WHERE expires_at <= ?", (int(time.time()),))
        self.db.execute("INSERT OR IGNORE INTO revocations (jti, client_id, expires_at) VALUES (?, ?, ?)",
                        (p["jti"], p["clientId"], p["expiresAt"]))
        return None

    def revocations(self, p):
        rows = self.db.execute("SELECT jti, expires_at FROM revocations WHERE seq > ? AND expires_at > ? ORDER BY seq",
                               (p.get("after", 0), int(time.time()))).fetchall()
        last = self.db.execute("SELECT coalesce(max(seq), 0) FROM revocations").fetchone()[0]
        return {"revocations": [{"jti": j, "expiresAt": e} for j, e in rows], "last": last}


METHODS = {"store.authenticate": "authenticate", "store.get": "get", "store.create": "create", "store.update": "update",
           "store.delete": "delete", "store.list": "list", "store.rotateSecret": "rotate_secret",
           "store.setNotBefore": "set_not_before", "store.revoke": "revoke", "store.revocations": "revocations"}


def send(message):
    sys.stdout.write(json.dumps(message, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def main():
    # Started by hand in a terminal, a plugin would sit waiting for JSON: say what it is instead (plugin-protocol.md §8).
    if sys.stdin.isatty() and not os.environ.get("GATEHOUSE_PLUGIN_INTERACTIVE"):
        print(f"{NAME} {VERSION} is a Gatehouse store plugin. It speaks JSON-RPC 2.0, one message per line, on "
              "stdin/stdout and is started by the host (`gatehouse serve`), not by hand.\n"
              "To talk to it from a terminal anyway, set GATEHOUSE_PLUGIN_INTERACTIVE=1 and type, for example:\n"
              '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersions":[1],"config":{}}}\n'
              "The protocol is described in Docs/plugin-protocol.md.", file=sys.stderr)
        return 2
    store, shutting_down = None, False
    for raw in sys.stdin.buffer:
        if not raw.strip():
            continue
        try:
            message = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            send({"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": f"invalid JSON: {exc}"}})
            continue
        if not isinstance(message, dict) or "method" not in message:
            continue
        method, params, rid = message["method"], message.get("params") or {}, message.get("id")
        if rid is None:
            if method == "exit":
                return 0 if shutting_down else 1
            continue
        try:
            if method == "initialize":
                if 1 not in params.get("protocolVersions", []):
                    raise RPCError(-32003, "python-store speaks protocol version 1")
                config = params.get("config") or {}
                for key in sorted(set(config) - {"path"}):  # a typo must not be ignored
                    raise RPCError(-32602, f"unknown key 'plugins.{(params.get('plugin') or {}).get('name', 'store')}.config.{key}'")
                path = config.get("path")
                if not isinstance(path, str) or not path:
                    raise RPCError(-32602, "python-store needs config.path")
                store = Store(path)
                result = {"name": NAME, "version": VERSION, "protocolVersion": 1, "role": "store",
                          "capabilities": {"methods": sorted(METHODS)}}
            elif store is None:
                raise RPCError(-32002, "'initialize' must come first")
            elif shutting_down:
                raise RPCError(-32004, "shutting down")
            elif method == "shutdown":
                shutting_down, result = True, None
            elif method in METHODS:
                if not isinstance(params, dict):
                    raise RPCError(-32602, "params must be an object")
                try:
                    result = getattr(store, METHODS[method])(params)
                except (KeyError, TypeError, AttributeError) as exc:
                    raise RPCError(-32602, f"invalid params: {type(exc).__name__} {exc}")
            else:
                raise RPCError(-32601, f"unknown method '{method}'")
            send({"jsonrpc": "2.0", "id": rid, "result": result})
        except RPCError as error:
            send({"jsonrpc": "2.0", "id": rid, "error": {"code": error.code, "message": error.message}})
        except Exception as exc:
            print(json.dumps({"level": "error", "msg": "handler failed", "error": type(exc).__name__}), file=sys.stderr, flush=True)
            send({"jsonrpc": "2.0", "id": rid, "error": {"code": -32603, "message": "internal error"}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
