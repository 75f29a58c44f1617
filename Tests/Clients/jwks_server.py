#!/usr/bin/env python3
"""A client's key server for JWKSetURLTests: serves DIR/jwks.json (re-read on every request, so a test
rotates keys by rewriting it) on loopback, and misbehaves on purpose on other paths.

Usage: jwks_server.py DIR [--tls CERT KEY]
Writes its port to DIR/port once listening. Paths:
  /jwks.json   DIR/jwks.json, with "Cache-Control: max-age=" + DIR/max-age (if that file exists)
  /hang        sends nothing for 30 s          /error    500
  /big         200 with 100 KiB of JSON         /garbage  200 with bytes that are no JSON
  /redirect    302 to http://127.0.0.1:PORT/jwks.json
  /count?p=/x  how many requests /x got (not counted itself)
"""
import http.server
import json
import os
import ssl
import sys
import threading
import time

directory = sys.argv[1]
counts = {}
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, status, body, headers=()):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        path, _, query = self.path.partition("?")
        if path == "/count":
            with lock:
                return self.send(200, str(counts.get(query.partition("=")[2], 0)).encode())
        with lock:
            counts[path] = counts.get(path, 0) + 1
        if path == "/jwks.json":
            try:
                with open(os.path.join(directory, "jwks.json"), "rb") as f:
                    body = f.read()
            except OSError:
                return self.send(500, b'{"error": "no keys"}')
            headers = []
            age = os.path.join(directory, "max-age")
            if os.path.exists(age):
                headers.append(("Cache-Control", "max-age=" + open(age).read().strip()))
            return self.send(200, body, headers)
        if path == "/hang":
            time.sleep(30)
            return self.send(200, b'{"keys": []}')
        if path == "/error":
            return self.send(500, b'{"error": "down"}')
        if path == "/big":
            return self.send(200, json.dumps({"keys": [], "pad": "x" * 102400}).encode())
        if path == "/garbage":
            return self.send(200, b"\x00\xffnot json{{{")
        if path == "/redirect":
            return self.send(302, b"", [("Location", f"http://127.0.0.1:{server.server_port}/jwks.json")])
        self.send(404, b"{}")


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
if len(sys.argv) > 2 and sys.argv[2] == "--tls":
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(sys.argv[3], sys.argv[4])
    server.socket = context.wrap_socket(server.socket, server_side=True)
with open(os.path.join(directory, "port.tmp"), "w") as f:
    f.write(str(server.server_port))
os.rename(os.path.join(directory, "port.tmp"), os.path.join(directory, "port"))
server.serve_forever()
