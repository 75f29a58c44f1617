#!/usr/bin/env python3
"""A complete Gatehouse plugin in Python, standard library only.

It implements the lifecycle (initialize, shutdown, exit) and one method, `example.echo`, which answers with
its params. Copy it as the start of your own plugin: replace METHODS and ROLE. The protocol is described in
Docs/plugin-protocol.md; the host starts this file as a plugin with a config entry such as
    {"command": "Docs/examples/python-plugin/echo_plugin.py"}
"""
import json
import os
import sys

NAME, VERSION, ROLE = "python-echo", "1.0.0", "example"
SUPPORTED_VERSIONS = [1]
MAX_LINE = 1 << 20  # Same cap as the host: refuse longer lines rather than buffer them.


def log(level, msg, **fields):
    """Logs go to stderr as JSON lines; the host re-emits them tagged with this plugin's name."""
    print(json.dumps({"level": level, "msg": msg, **fields}), file=sys.stderr, flush=True)


def echo(params):
    return params


METHODS = {"example.echo": echo}


class RPCError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code, self.message = code, message


def send(message):
    # Compact JSON, one object per line; ensure_ascii keeps the line pure ASCII, which is still valid UTF-8.
    sys.stdout.write(json.dumps(message, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def answer(request_id, result=None, error=None):
    message = {"jsonrpc": "2.0", "id": request_id}
    if error is not None:
        message["error"] = {"code": error.code, "message": error.message}
    else:
        message["result"] = result
    send(message)


def main():
    if sys.stdin.isatty() and not os.environ.get("GATEHOUSE_PLUGIN_INTERACTIVE"):
        print(f"{NAME} is a Gatehouse plugin; it is started by `gatehouse serve` and speaks JSON-RPC "
              "on stdin/stdout (see Docs/plugin-protocol.md). Set GATEHOUSE_PLUGIN_INTERACTIVE=1 to type "
              "messages by hand.", file=sys.stderr)
        return 2
    initialized = shutting_down = False
    for raw in sys.stdin.buffer:
        if len(raw) > MAX_LINE:
            answer(None, error=RPCError(-32600, "line too long"))
            continue
        if not raw.strip():
            continue
        try:
            message = json.loads(raw)
        except ValueError as exc:
            answer(None, error=RPCError(-32700, f"invalid JSON: {exc}"))
            continue
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0" or "method" not in message:
            continue  # Responses and junk: nothing this plugin waits for.
        method, params, request_id = message["method"], message.get("params"), message.get("id")
        if request_id is None:  # A notification: never answered.
            if method == "exit":
                return 0 if shutting_down else 1
            continue
        try:
            if method == "initialize":
                offered = params.get("protocolVersions", [])
                common = [v for v in offered if v in SUPPORTED_VERSIONS]
                if not common:
                    raise RPCError(-32003, f"{NAME} speaks protocol version {SUPPORTED_VERSIONS}; host offered {offered}")
                initialized = True
                log("info", "initialized", config_keys=sorted((params.get("config") or {}).keys()))
                answer(request_id, {"name": NAME, "version": VERSION, "protocolVersion": max(common),
                                    "role": ROLE, "capabilities": {"methods": sorted(METHODS)}})
            elif not initialized:
                raise RPCError(-32002, "'initialize' must come first")
            elif shutting_down:
                raise RPCError(-32004, "the plugin is shutting down")
            elif method == "shutdown":
                shutting_down = True
                answer(request_id, None)
            elif method in METHODS:
                answer(request_id, METHODS[method](params))
            else:
                raise RPCError(-32601, f"unknown method '{method}'")
        except RPCError as error:
            answer(request_id, error=error)
        except Exception as exc:  # Never let one bad request end the plugin; never leak details either.
            log("error", "handler failed", error=type(exc).__name__)
            answer(request_id, error=RPCError(-32603, f"internal error in '{method}'"))
    return 0  # stdin closed: the host is gone.


if __name__ == "__main__":
    sys.exit(main())
