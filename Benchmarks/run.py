#!/usr/bin/env python3
"""Gatehouse HTTP benchmarks against the nginx ceiling, measured in the same run (Benchmarks/README.md).

Usage: Benchmarks/run [--duration 10] [--runs 3] [--connections 32] [--stores sqlite,file] [--million] [--signing]
       [--assertions] [--only logging|signing|assertions|postgres] [--trials 200]
       Benchmarks/run --only postgres [--million] [--trials 200]
"""
import argparse
import base64
import gzip
import hashlib
import http.cookiejar
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import bulk_clients

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.path.join(ROOT, ".build", "release")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url, timeout=15):
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return time.monotonic() - start
        except OSError:
            time.sleep(0.005)
    raise SystemExit(f"not ready: {url}")


def wrk(url, duration, connections, script=None, headers=()):
    command = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency"]
    for header in headers:
        command += ["-H", header]
    if script:
        command += ["-s", script]
    output = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", output)
    p99_ms = float(p99.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return rate, p99_ms, int(errors.group(1)) if errors else 0


def measure(label, args, url, **kwargs):
    wrk(url, 2, args.connections, **kwargs)  # warm-up
    return summarize(label, [wrk(url, args.duration, args.connections, **kwargs) for _ in range(args.runs)])


def summarize(label, runs):
    rate = statistics.median(r[0] for r in runs)
    p99 = statistics.median(r[1] for r in runs)
    return {"label": label, "rate": rate, "p99_ms": p99, "non2xx": sum(r[2] for r in runs), "runs": [round(r[0]) for r in runs],
            "raw": runs}


def measure_ceiling(args, directory, body):
    """nginx answering a fixed body of the token response's size: the ceiling for an exchange like ours."""
    port = free_port()
    nginx = start_nginx(directory, port, body)
    try:
        wait_ready(f"http://127.0.0.1:{port}/")
        return measure("nginx fixed JSON body (ceiling)", args, f"http://127.0.0.1:{port}/")
    finally:
        nginx.send_signal(signal.SIGQUIT)
        nginx.wait()


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as status:
        return int(re.search(r"VmRSS:\s+(\d+)", status.read()).group(1))


def children(pid):
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


def start_nginx(directory, port, body):
    config = f"""worker_processes 2; daemon off; pid {directory}/nginx.pid; error_log {directory}/error.log warn;
events {{ worker_connections 1024; }}
http {{ access_log off; client_body_temp_path {directory}; proxy_temp_path {directory}; fastcgi_temp_path {directory};
  uwsgi_temp_path {directory}; scgi_temp_path {directory};
  server {{ listen 127.0.0.1:{port}; location / {{ default_type application/json; return 200 '{body}'; }} }} }}"""
    path = os.path.join(directory, "nginx.conf")
    with open(path, "w") as f:
        f.write(config)
    return subprocess.Popen(["nginx", "-c", path, "-p", directory, "-e", f"{directory}/error.log"], stderr=subprocess.DEVNULL)


def bulk_load(database, count):
    """Fills sqlite-store's schema directly with `count` clients as `client add` writes them (bulk_clients.py; the
    CLI would take an fsync per client). The store made the decoy row when it created the file."""
    db = sqlite3.connect(database)
    db.execute("PRAGMA journal_mode = WAL")
    now = int(time.time())
    batch = []
    for client_id, _, client, verifier in bulk_clients.rows(count, b"sqlite-million", now, bulk_clients.randomness(count)):
        batch.append((client, (client_id, verifier, now)))
        if len(batch) == 50_000:
            insert_batch(db, batch)
            batch = []
    insert_batch(db, batch)
    db.close()


def insert_batch(db, batch):
    db.executemany(f"INSERT INTO clients ({bulk_clients.CLIENT_COLUMNS}) VALUES ({','.join('?' * 13)})", [c for c, _ in batch])
    db.executemany("INSERT INTO secrets (client_id, verifier, created_at, expires_at) VALUES (?,?,?,NULL)", [s for _, s in batch])
    db.commit()


class Gatehouse:
    def __init__(self, directory, store, store_config=None, token=None, issuer=None):
        self.directory, self.port = directory, free_port()
        self.issuer = issuer  # None: the default, http://<listen>, which differs from host to host
        os.makedirs(directory, exist_ok=True)
        # HS256 unless asked otherwise: the store, HTTP and logging rows measure the HTTP and plugin path, and
        # stay comparable with runs from before RS256 became the default; --signing measures each algorithm.
        self.token = token or {"signing_algorithm": "HS256"}
        self.configure(store, store_config or {})

    def configure(self, store, store_config, default_logging=False, pool=None):
        """Logs off (warnings only, no access log) unless `default_logging`: then the zero-config default, info
        level and the access log, with stderr going to serve.log like a service manager's file."""
        config = {} if default_logging else {"access_log": False, "log_level": "warning"}
        config["plugins"] = {"store": {"command": f"gatehouse-{store}-store", "config": store_config}}
        if pool:
            config["plugins"]["store"]["pool"] = pool  # store processes, each with its own connection(s)
        if self.token:
            config["token"] = self.token
        if self.issuer:
            config["issuer"] = self.issuer
        with open(os.path.join(self.directory, "gatehouse.json"), "w") as f:
            json.dump(config, f)
        self.base = ["--config", os.path.join(self.directory, "gatehouse.json"), "--data", os.path.join(self.directory, "data")]
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self):
        began = time.monotonic()
        self.process = subprocess.Popen([f"{RELEASE}/gatehouse", "serve", "--listen", f"127.0.0.1:{self.port}"] + self.base,
                                        stderr=open(os.path.join(self.directory, "serve.log"), "a"))
        wait_ready(self.url + "/api/v1/status/ready")
        return time.monotonic() - began

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)

    def client(self, name):
        out = subprocess.run([f"{RELEASE}/gatehouse", "client", "add", "--name", name, "--scope", "metrics", "--json"] + self.base,
                             capture_output=True, text=True, check=True).stdout
        data = json.loads(out)
        return data["client_id"], data["client_secret"]


class Glewlwyd:
    """The Debian package's Glewlwyd 2.x as a peer: its OAuth2 plugin with the client credentials grant, one
    confidential client, a SQLite database made from the package's own schema. Run only when installed."""
    SCHEMA = "/usr/share/doc/glewlwyd/database/init.sqlite3.sql.gz"
    CONFIG = "/etc/glewlwyd/glewlwyd.conf"
    client_id, secret = "bench", "bench-secret-0123456789abcdef"

    @staticmethod
    def available():
        return shutil.which("glewlwyd") and os.path.exists(Glewlwyd.SCHEMA) and os.path.exists(Glewlwyd.CONFIG)

    def __init__(self, directory):
        self.directory, self.port = directory, free_port()
        os.makedirs(directory, exist_ok=True)
        database = os.path.join(directory, "glewlwyd.db")
        db = sqlite3.connect(database)
        db.executescript(gzip.open(self.SCHEMA, "rt").read())
        db.close()
        config = open(self.CONFIG).read()
        for key, value in (("port", str(self.port)), ("external_url", f'"http://127.0.0.1:{self.port}/"'),
                           ("log_mode", '"console"'), ("log_level", '"ERROR"')):
            config = re.sub(rf"(?m)^{key}=.*$", f"{key}={value}", config)
        config = re.sub(r'(?m)^@include .*glewlwyd-db\.conf.*$', f'database = {{ type = "sqlite3" path = "{database}" }};', config)
        path = os.path.join(directory, "glewlwyd.conf")
        with open(path, "w") as f:
            f.write(config)
        self.process = subprocess.Popen(["glewlwyd", f"--config-file={path}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{self.port}"
        self.configure()

    def configure(self):
        """What an administrator does in its web app, through the same API: sign in, add the OAuth2 plugin,
        a scope and a client."""
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        def post(path, body):
            request = urllib.request.Request(self.url + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
            return opener.open(request, timeout=10).status
        for _ in range(200):
            try:
                post("/api/auth/", {"username": "admin", "password": "password"})  # the schema's default admin
                break
            except OSError:
                time.sleep(0.05)
        post("/api/mod/plugin/", {"module": "oauth2-glewlwyd", "name": "glwd", "display_name": "OAuth2", "enabled": True,
                                  "parameters": {"jwt-type": "sha", "jwt-key-size": "256", "key": "bench-signing-key-0123456789abcdef",
                                                 "access-token-duration": 3600, "refresh-token-duration": 1209600,
                                                 "code-duration": 600, "refresh-token-rolling": False,
                                                 "auth-type-code-enabled": False, "auth-type-implicit-enabled": False,
                                                 "auth-type-password-enabled": False, "auth-type-client-enabled": True,
                                                 "auth-type-refresh-enabled": False, "scope": []}})
        post("/api/scope/", {"name": "metrics", "display_name": "metrics", "description": "metrics",
                             "password_required": False, "password_max_age": 0, "scheme": {}})
        post("/api/client/?source=database", {"client_id": self.client_id, "name": "bench", "description": "bench",
                                               "confidential": True, "password": self.secret, "enabled": True,
                                               "authorization_type": ["client_credentials"], "scope": ["metrics"],
                                               "redirect_uri": []})

    def token_script(self):
        path = os.path.join(self.directory, "token.lua")
        basic = base64.b64encode(f"{self.client_id}:{self.secret}".encode()).decode()
        with open(path, "w") as f:
            f.write(f'wrk.method = "POST"\nwrk.body = "grant_type=client_credentials&scope=metrics"\n'
                    f'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\nwrk.headers["Authorization"] = "Basic {basic}"\n')
        return path

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def token_script(directory, client_id, secret, name):
    path = os.path.join(directory, f"{name}.lua")
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    with open(path, "w") as f:
        f.write(f'wrk.method = "POST"\nwrk.body = "grant_type=client_credentials"\n'
                f'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\nwrk.headers["Authorization"] = "Basic {basic}"\n')
    return path


def measure_logging(args, directory, store="sqlite"):
    """Token issuance with logs off and with the default logging, runs alternating so that drift on a shared
    machine falls on both alike. Goal (issue 13): logging costs under 10% of issuance."""
    gh = Gatehouse(os.path.join(directory, f"{store}-logging"), store)
    gh.start()
    client_id, secret = gh.client("bench")
    gh.stop()
    script = token_script(directory, client_id, secret, f"{store}-logging")
    runs = {False: [], True: []}
    for _ in range(args.runs):
        for default_logging in (False, True):
            gh.configure(store, {}, default_logging=default_logging)
            gh.start()
            url = gh.url + "/api/v1/oauth/token"
            wrk(url, 1, args.connections, script=script)  # warm-up
            runs[default_logging].append(wrk(url, args.duration, args.connections, script=script))
            gh.stop()
    off = summarize(f"{store}: token issuance, logs off", runs[False])
    on = summarize(f"{store}: token issuance, default logging (info, access log, stderr to a file)", runs[True])
    cost = f"{(1 - on['rate'] / off['rate']) * 100:.1f}% of issuance" if off["rate"] else "n/a"
    return [off, on], {f"{store}: cost of default logging": cost}


ALGORITHMS = ("HS256", "RS256", "ES256", "EdDSA")
SPEED_NAMES = {"RS256": "rsa2048", "ES256": "ecdsap256", "EdDSA": "ed25519"}


def openssl_speed(seconds, alg):
    """libcrypto's raw signing rate for `alg` on every core (`openssl speed -multi`), measured in the same run:
    the ceiling for asymmetric issuance, since each token costs one signature."""
    command = ["openssl", "speed", "-seconds", str(seconds), "-multi", str(os.cpu_count()), SPEED_NAMES[alg]]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    patterns = {"RS256": r"rsa\s+2048 bits\s+\S+\s+\S+\s+([\d.]+)",
                "ES256": r"256 bits ecdsa \(nistp256\)\s+\S+\s+\S+\s+([\d.]+)",
                "EdDSA": r"EdDSA \(Ed25519\)\s+\S+\s+\S+\s+([\d.]+)"}
    match = re.search(patterns[alg], output)
    return float(match.group(1)) if match else None


def measure_signing(args, directory, results, extras):
    """Token issuance per signing algorithm (token.signing_algorithm), each asymmetric one beside the raw
    libcrypto signing rate of the same cores, measured just before and just after it."""
    for alg in ALGORITHMS:
        gh = Gatehouse(os.path.join(directory, f"signing-{alg}"), "sqlite", token={"signing_algorithm": alg})
        gh.start()
        try:
            client_id, secret = gh.client("bench")
            # Raw rate before and after, averaged: on a shared machine either end alone flatters or wrongs it.
            before = openssl_speed(args.duration, alg) if alg in SPEED_NAMES else None
            result = measure(f"sqlite: token issuance, {alg}", args, gh.url + "/api/v1/oauth/token",
                             script=token_script(directory, client_id, secret, f"signing-{alg}"))
            after = openssl_speed(args.duration, alg) if alg in SPEED_NAMES else None
            raw = (before + after) / 2 if before and after else None
            results.append(result)
            if raw:
                extras[f"{alg}: openssl speed {SPEED_NAMES[alg]} sign/s ({os.cpu_count()} cores)"] = f"{raw:.0f}"
                extras[f"{alg}: issuance / raw signing rate"] = f"{result['rate'] / raw:.2f}"
        finally:
            gh.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--stores", default="sqlite,file")
    parser.add_argument("--million", action="store_true",
                        help="also measure issuance with 1,000,000 clients in sqlite-store (with --only postgres: in postgres-store)")
    parser.add_argument("--signing", action="store_true", help="also measure issuance per signing algorithm beside openssl speed")
    parser.add_argument("--only", choices=["logging", "signing", "assertions", "postgres"],
                        help="run one part only: logging = issuance with logs off vs default logging; "
                             "signing = the nginx ceiling and issuance per signing algorithm; "
                             "assertions = the ceiling and private_key_jwt issuance; "
                             "postgres = the ceiling, issuance on postgres-store beside sqlite-store, propagation")
    parser.add_argument("--trials", type=int, default=200, help="propagation trials for --only postgres")
    parser.add_argument("--assertions", action="store_true", help="also measure private_key_jwt issuance (Benchmarks/assertions.py)")
    # Above the fastest private_key_jwt issuance measured (RS256, 11,592/s in Docs/performance.md), with the 1.3
    # margin of assertions.py: a run that uses up its assertions measures replays, not issuance.
    parser.add_argument("--assertion-rate", type=int, default=12000,
                        help="assertions signed in advance per second measured (default 12000; raise it if a run's "
                             "issuance rate comes near it)")
    args = parser.parse_args()
    if args.only == "assertions":
        args.assertions, args.stores = True, ""
    for tool in ("wrk", "nginx"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} not found: run scripts/bootstrap --bench")
    directory = tempfile.mkdtemp(prefix="gatehouse-bench-")
    if args.only == "logging":
        rows, notes = measure_logging(args, directory)
        print(f"\nGatehouse logging cost: wrk -t2 -c{args.connections}, {args.duration} s x {args.runs} runs, alternating; medians.")
        for r in rows:
            print(f"{r['label']:<78}{r['rate']:>10.0f} req/s{r['p99_ms']:>9.2f} ms p99  {r['runs']}")
        for key, value in notes.items():
            print(f"{key:<78}{value:>10}")
        shutil.rmtree(directory, ignore_errors=True)
        return
    if args.only == "postgres":
        from postgres_bench import measure_postgres, report
        body = json.dumps({"access_token": "x" * 560, "token_type": "Bearer", "expires_in": 3600, "scope": "metrics"})
        before = measure_ceiling(args, directory, body)
        rows, notes = measure_postgres(args, directory, Gatehouse, RELEASE, measure, token_script, free_port, wrk, summarize)
        after = measure_ceiling(args, directory, body)
        report(args, rows, notes, summarize("nginx fixed JSON body (ceiling, before and after)", before["raw"] + after["raw"]))
        shutil.rmtree(directory, ignore_errors=True)
        return
    results = []
    # A body the size of a token response, so the ceiling is an exchange of the same size.
    body = json.dumps({"access_token": "x" * 560, "token_type": "Bearer", "expires_in": 3600, "scope": "metrics"})
    # The ceiling is measured before and after Gatehouse and the median taken over both: on a shared machine it
    # drifts during a run, and a ceiling from one end of the run would flatter or wrong the other end.
    ceiling_before = measure_ceiling(args, directory, body)
    extras = {}
    if args.signing or args.only == "signing":
        measure_signing(args, directory, results, extras)
    for store in ([] if args.only == "signing" else filter(None, args.stores.split(","))):
        gh = Gatehouse(os.path.join(directory, store), store)
        gh.start()
        client_id, secret = gh.client("bench")
        gh.stop()
        extras[f"{store}: serve to ready"] = f"{gh.start() * 1000:.0f} ms"
        token = json.loads(subprocess.run(["curl", "-s", "-u", f"{client_id}:{secret}", "-d", "grant_type=client_credentials",
                                           gh.url + "/api/v1/oauth/token"], capture_output=True, text=True).stdout)["access_token"]
        good = token_script(directory, client_id, secret, f"{store}-good")
        results.append(measure(f"{store}: token issuance (Basic, valid secret)", args, gh.url + "/api/v1/oauth/token",
                               script=good))
        results.append(measure(f"{store}: token issuance, wrong secret", args, gh.url + "/api/v1/oauth/token",
                               script=token_script(directory, client_id, secret + "x", f"{store}-bad")))
        results.append(measure(f"{store}: bearer-protected small endpoint (forward auth)", args, gh.url + "/api/v1/auth/verify",
                               headers=[f"Authorization: Bearer {token}", "X-Forwarded-Uri: /api/v1/metrics"]))
        results.append(measure(f"{store}: bearer-protected /api/v1/metrics", args, gh.url + "/api/v1/metrics",
                               headers=[f"Authorization: Bearer {token}"]))
        host_pid = gh.process.pid
        extras[f"{store}: host RSS after load"] = f"{rss_kb(host_pid) / 1024:.1f} MB"
        for child in children(host_pid):
            name = open(f"/proc/{child}/comm").read().strip()
            extras[f"{store}: {name} RSS"] = f"{rss_kb(child) / 1024:.1f} MB"
        gh.stop()
        # The same with the authentication cache off: a store round trip for every token.
        gh.configure(store, {"authCacheMs": 0})
        gh.start()
        results.append(measure(f"{store}: token issuance, auth cache off (store call per token)", args,
                               gh.url + "/api/v1/oauth/token", script=good))
        gh.stop()
        if store == "sqlite" and args.million:
            bulk_load(os.path.join(gh.directory, "data", "gatehouse.sqlite3"), 1_000_000)
            for label, config in (("", {}), (", auth cache off", {"authCacheMs": 0})):
                gh.configure(store, config)
                gh.start()
                results.append(measure(f"sqlite: token issuance, 1,000,000 clients{label}", args,
                                       gh.url + "/api/v1/oauth/token", script=good))
                gh.stop()
    if "sqlite" in args.stores.split(",") and args.only != "signing":
        rows, notes = measure_logging(args, directory)
        results += rows
        extras.update(notes)
    if args.assertions:
        import assertions
        assertions.run(args, directory, f"{RELEASE}/gatehouse", Gatehouse, measure, wrk, summarize, token_script, results, extras)
    if args.only in ("signing", "assertions"):
        pass
    elif Glewlwyd.available():
        peer = Glewlwyd(os.path.join(directory, "glewlwyd"))
        try:
            results.append(measure("peer: Glewlwyd 2.x token issuance (Debian package)", args, peer.url + "/api/glwd/token",
                                   script=peer.token_script()))
        finally:
            peer.stop()
    else:
        extras["peer: Glewlwyd"] = "not installed (apt-get install glewlwyd to include it)"
    ceiling_after = measure_ceiling(args, directory, body)
    ceiling = summarize("nginx fixed JSON body (ceiling, before and after)", ceiling_before["raw"] + ceiling_after["raw"])
    results.insert(0, ceiling)
    ceiling_rate = ceiling["rate"]
    print(f"\nGatehouse benchmarks: wrk -t2 -c{args.connections}, {args.duration} s x {args.runs} runs after a 2 s warm-up; medians.")
    print(f"machine: {os.cpu_count()} cores, {platform()}")
    print(f"{'benchmark':<66}{'req/s':>10}{'x ceiling':>11}{'p99 ms':>9}  runs")
    for r in results:
        flag = f"  ({r['non2xx']} non-2xx)" if r["non2xx"] and "wrong secret" not in r["label"] else ""
        print(f"{r['label']:<66}{r['rate']:>10.0f}{r['rate'] / ceiling_rate:>11.3f}{r['p99_ms']:>9.2f}  {r['runs']}{flag}")
    for key, value in extras.items():
        print(f"{key:<66}{value:>10}")
    shutil.rmtree(directory, ignore_errors=True)


def platform():
    try:
        return re.search(r"model name\s+:\s+(.*)", open("/proc/cpuinfo").read()).group(1)
    except (OSError, AttributeError):
        return "unknown CPU"


if __name__ == "__main__":
    main()
