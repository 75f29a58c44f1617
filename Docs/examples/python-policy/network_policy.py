#!/usr/bin/env python3
"""A complete Gatehouse policy plugin in Python, standard library only: scopes plus source networks.

A request is allowed when the token holds a scope the matching rule requires AND it comes from one of the
networks configured for that rule; tokens are granted only scopes the client is allowed. Everything else is
denied, with a reason. Walk-through: Docs/writing-a-policy-plugin.md.

Config (the `config` member of plugins.policy in the host config):
  {"rules": [{"methods": ["GET"], "path": "/api/v1/metrics", "scopes": ["metrics"],
              "networks": ["10.0.0.0/8", "127.0.0.1/32"]}],
   "cacheTtlMs": 1000}
"""
import ipaddress
import json
import os
import sys

NAME, VERSION = "network-policy", "1.0.0"


class RPCError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code, self.message = code, message


class NetworkPolicy:
    def __init__(self, config):
        for key in sorted(set(config) - {"rules", "cacheTtlMs"}):  # a typo must not be ignored
            raise RPCError(-32602, f"unknown key '{key}' in the policy config")
        self.rules = []
        for index, rule in enumerate(config.get("rules", [])):
            try:
                self.rules.append({
                    "methods": {m.upper() for m in rule.get("methods", [])},
                    "path": rule["path"],
                    "scopes": set(rule["scopes"]),
                    "networks": [ipaddress.ip_network(n) for n in rule.get("networks", ["0.0.0.0/0", "::/0"])],
                })
            except (KeyError, TypeError, ValueError) as exc:
                # Refusing the configuration at initialize makes the host report it and not start.
                raise RPCError(2001, f"rules[{index}]: {exc}")
        self.ttl = int(config.get("cacheTtlMs", 1000))

    def grant(self, params):
        client = params["client"]
        requested = params.get("requestedScopes")
        scopes = requested if requested is not None else client.get("defaultScopes", [])
        if not scopes:
            return {"granted": False, "scopes": [], "reason": "no scope requested and no default scopes"}
        for scope in scopes:
            if scope not in client.get("allowedScopes", []):
                return {"granted": False, "scopes": [], "reason": f"scope '{scope}' is not allowed for client '{client['id']}'"}
        return {"granted": True, "scopes": list(dict.fromkeys(scopes)), "reason": "granted the client's allowed scopes"}

    def authorize(self, params):
        request, held = params["request"], set(params["scopes"])
        method, path = request["method"].upper(), request["path"]
        if "/../" in path + "/" or "%2f" in path.lower() or "%2e" in path.lower():
            return self.deny(f"path '{path}' is not in canonical form")
        for rule in self.rules:
            if path != rule["path"] or (rule["methods"] and method not in rule["methods"]):
                continue
            if not held & rule["scopes"]:
                return self.deny(f"{method} {path} needs scope {' or '.join(sorted(rule['scopes']))}", sorted(rule["scopes"]))
            address = request.get("remoteAddress")
            try:
                source = ipaddress.ip_address(address)
            except (TypeError, ValueError):
                return self.deny("the request's source address is unknown")
            if not any(source in network for network in rule["networks"]):
                return self.deny(f"{method} {path} is not allowed from {address}")
            return {"allowed": True, "reason": f"scope and network {address} allow {method} {path}", "cacheTtlMs": self.ttl}
        return self.deny(f"no rule matches {method} {path}")

    def deny(self, reason, required=()):
        return {"allowed": False, "reason": reason, "requiredScopes": list(required), "cacheTtlMs": self.ttl}


def send(message):
    sys.stdout.write(json.dumps(message, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def main():
    # Started by hand in a terminal, a plugin would sit waiting for JSON: say what it is instead (plugin-protocol.md §8).
    if sys.stdin.isatty() and not os.environ.get("GATEHOUSE_PLUGIN_INTERACTIVE"):
        print(f"{NAME} {VERSION} is a Gatehouse policy plugin. It speaks JSON-RPC 2.0, one message per line, on "
              "stdin/stdout and is started by the host (`gatehouse serve`), not by hand.\n"
              "To talk to it from a terminal anyway, set GATEHOUSE_PLUGIN_INTERACTIVE=1 and type, for example:\n"
              '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersions":[1],"config":{}}}\n'
              "The protocol is described in Docs/plugin-protocol.md.", file=sys.stderr)
        return 2
    policy, shutting_down = None, False
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
                    raise RPCError(-32003, f"{NAME} speaks protocol version 1")
                policy = NetworkPolicy(params.get("config") or {})
                result = {"name": NAME, "version": VERSION, "protocolVersion": 1, "role": "policy",
                          "capabilities": {"methods": ["policy.authorize", "policy.grant"]}}
            elif policy is None:
                raise RPCError(-32002, "'initialize' must come first")
            elif shutting_down:
                raise RPCError(-32004, "shutting down")
            elif method == "shutdown":
                shutting_down, result = True, None
            elif method in ("policy.grant", "policy.authorize"):
                try:
                    result = getattr(policy, method.split(".")[1])(params)
                except (KeyError, TypeError, AttributeError) as exc:
                    raise RPCError(-32602, f"invalid params: {type(exc).__name__} {exc}")
            else:
                raise RPCError(-32601, f"unknown method '{method}'")
            send({"jsonrpc": "2.0", "id": rid, "result": result})
        except RPCError as error:
            send({"jsonrpc": "2.0", "id": rid, "error": {"code": error.code, "message": error.message}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
