"""postgres-store benchmarks (Benchmarks/run --only postgres): issuance with the auth cache on and off beside
sqlite-store, the primary-key lookup floor (pgbench), propagation — a revocation or a CLI disable on host A until
host B refuses the token — and with --million, the same store with 1,000,000 clients (postgres_million.py)."""
import http.client
import json
import os
import pwd
import re
import shutil
import statistics
import subprocess
import tempfile
import time


class PostgresServer:
    """A throwaway PostgreSQL (Debian's initdb/pg_ctl, as the postgres user when run as root) on a free port."""

    def __init__(self, directory, port):
        versions = sorted(int(v) for v in os.listdir("/usr/lib/postgresql") if v.isdigit())
        if not versions:
            raise SystemExit("PostgreSQL not found: apt-get install postgresql")
        self.bin = f"/usr/lib/postgresql/{versions[-1]}/bin"
        self.directory, self.port = directory, port
        os.makedirs(f"{directory}/socket", exist_ok=True)
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            for path in (directory, f"{directory}/socket"):
                os.chown(path, account.pw_uid, account.pw_gid)
        self.run(f"{self.bin}/initdb", "-D", f"{directory}/data", "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8",
                 "--locale=C")
        options = f"-p {port} -k {directory}/socket -c listen_addresses=127.0.0.1 -c max_connections=200"
        self.run(f"{self.bin}/pg_ctl", "-D", f"{directory}/data", "-o", options, "-l", f"{directory}/server.log", "-w", "start")
        subprocess.run(["psql", "-h", f"{directory}/socket", "-p", str(port), "-U", "postgres", "-qc", "CREATE DATABASE gatehouse"],
                       check=True, capture_output=True)

    def run(self, *command):
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        # No pipes: the server `pg_ctl start` leaves running would hold them open.
        subprocess.run(prefix + list(command), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/tmp")

    @property
    def url(self):
        return f"postgresql://postgres@127.0.0.1:{self.port}/gatehouse"

    def stop(self):
        self.run(f"{self.bin}/pg_ctl", "-D", f"{self.directory}/data", "-m", "fast", "-w", "stop")


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def status(connection, path, token):
    connection.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    response = connection.getresponse()
    response.read()
    return response.status


def until_refused(port, token, timeout=5.0):
    """Seconds until host `port` answers 401 to `token`, polling over one kept-alive connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if status(connection, "/api/v1/metrics", token) == 401:
            connection.close()
            return time.monotonic() - start
    connection.close()
    return None


def accepted(port, token):
    """Whether host `port` takes `token` now: a token it never took (say, an unknown kid) would be "refused" at
    once and time a propagation that never happened."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        return status(connection, "/api/v1/metrics", token) == 200
    finally:
        connection.close()


def fetch_token(url, client_id, secret):
    out = subprocess.run(["curl", "-s", "-u", f"{client_id}:{secret}", "-d", "grant_type=client_credentials",
                          url + "/api/v1/oauth/token"], capture_output=True, text=True).stdout
    return json.loads(out)["access_token"]


def propagation(gatehouse_class, release, directory, database, trials):
    """Two hosts on one database (deployment.md, "Several hosts"), each with its own signing key, which it
    publishes through the store: B verifies A's tokens with A's published public key. EdDSA, not the HS256 of
    the issuance rows: an HMAC key is never published, so only hosts that shared the file could take each
    other's tokens, and the cheapest signature keeps the hosts' work small beside what is timed. One issuer, as
    deployment.md asks: the default is each host's own listen address, and B refuses a token of another issuer."""
    shared = {"token": {"signing_algorithm": "EdDSA"}, "issuer": "https://auth.example.com"}
    a = gatehouse_class(os.path.join(directory, "host-a"), "postgres", {"url": database.url}, **shared)
    a.start()
    b = gatehouse_class(os.path.join(directory, "host-b"), "postgres", {"url": database.url}, **shared)
    b.start()
    try:
        client_id, secret = a.client("propagation")
        revocation = []
        for _ in range(trials):
            token = fetch_token(a.url, client_id, secret)
            if not accepted(b.port, token):
                raise RuntimeError("host B refuses host A's token before the revocation: A's key did not reach B")
            started = time.monotonic()
            subprocess.run(["curl", "-s", "-o", "/dev/null", "-u", f"{client_id}:{secret}", "-d", f"token={token}",
                            a.url + "/api/v1/oauth/revoke"], check=True)
            waited = until_refused(b.port, token)
            if waited is not None:
                revocation.append(time.monotonic() - started)
        # A disable voids tokens of the current second too, so each trial has a client of its own.
        disable = []
        clients = [a.client(f"disable-{i}") for i in range(trials)]
        for client_id, secret in clients:
            token = fetch_token(b.url, client_id, secret)
            if not accepted(b.port, token):
                raise RuntimeError("host B refuses its own token before the disable")
            subprocess.run([f"{release}/gatehouse", "client", "disable", client_id] + a.base, check=True, capture_output=True)
            waited = until_refused(b.port, token)
            if waited is not None:
                disable.append(waited)
        return revocation, disable, trials, len(clients)
    finally:
        a.stop()
        b.stop()


# The store's lookup for a token (PostgresStoreBackend.selectClientsOrDecoy, a batch of one), by primary key: a store
# round trip's floor.
LOOKUP = """SELECT c.id, c.name, c.role, c.allowed_scopes, c.default_scopes, c.token_lifetime, c.enabled, c.created_at,
c.updated_at, c.last_used_at, c.not_before, c.instance, c.public_keys, c.jwks_uri, s.verifier, s.created_at, s.expires_at, q.ord
FROM unnest(ARRAY[:id::text]) WITH ORDINALITY AS q(id, ord) LEFT JOIN gatehouse_clients known ON known.id = q.id
JOIN gatehouse_clients c ON c.id = coalesce(known.id, '~decoy-for-unknown-ids')
LEFT JOIN gatehouse_secrets s ON s.client_id = c.id ORDER BY q.ord, s.created_at, s.id;
"""


def pgbench_floor(args, database, name, client_id, label):
    """pgbench running the store's own lookup of `client_id` as a prepared statement over as many connections as
    wrk uses (two threads, like wrk's): the rate PostgreSQL alone serves that round trip at on these cores."""
    script = os.path.join(database.directory, "lookup.sql")
    with open(script, "w") as f:
        f.write(LOOKUP)
    command = ["pgbench", "-n", "-M", "prepared", "-f", script, "-D", f"id={client_id}", f"-c{args.connections}", "-j2",
               "-h", f"{database.directory}/socket", "-p", str(database.port), "-U", "postgres", name]
    def rate(seconds):
        out = subprocess.run(command + ["-T", str(seconds)], check=True, capture_output=True, text=True).stdout
        return float(re.search(r"tps = ([\d.]+)", out).group(1))
    rate(2)  # warm-up, as wrk's
    runs = [rate(args.duration) for _ in range(args.runs)]
    rate_median = statistics.median(runs)
    return {"label": f"pgbench: store lookup by primary key, {label} (floor)", "rate": rate_median, "p99_ms": 0.0,
            "non2xx": 0, "runs": [round(r) for r in runs], "raw": [(r, 0.0, 0) for r in runs], "floor": True}


def measure_postgres(args, directory, gatehouse_class, release, measure, token_script, free_port, wrk=None, summarize=None):
    # A directory of its own: the postgres user cannot enter the benchmark's private one.
    database = PostgresServer(tempfile.mkdtemp(prefix="gatehouse-bench-pg-"), free_port())
    rows, notes = [], {}
    try:
        for store, config in (("sqlite", {}), ("postgres", {"url": database.url})):
            gh = gatehouse_class(os.path.join(directory, f"issue-{store}"), store, config)
            gh.start()
            client_id, secret = gh.client("bench")
            good = token_script(directory, client_id, secret, f"pg-bench-{store}")
            rows.append(measure(f"{store}: token issuance (auth cache on)", args, gh.url + "/api/v1/oauth/token", script=good))
            gh.stop()
            gh.configure(store, dict(config, authCacheMs=0))
            gh.start()
            rows.append(measure(f"{store}: token issuance, auth cache off (store call per token)", args,
                                gh.url + "/api/v1/oauth/token", script=good))
            gh.stop()
            if store == "postgres":
                # One store process makes one database round trip at a time: more processes, more at once.
                for pool in (2, 4):
                    gh.configure(store, dict(config, authCacheMs=0), pool=pool)
                    gh.start()
                    rows.append(measure(f"{store}: token issuance, auth cache off, {pool} store processes", args,
                                        gh.url + "/api/v1/oauth/token", script=good))
                    gh.stop()
        rows.append(pgbench_floor(args, database, "gatehouse", client_id, "small table"))
        revocation, disable, revocation_trials, disable_trials = propagation(gatehouse_class, release, directory, database, args.trials)
        for label, values, trials in (("revocation on A, refused on B", revocation, revocation_trials),
                                      ("CLI disable done, refused on B", disable, disable_trials)):
            ms = [v * 1000 for v in values]
            notes[f"propagation, {label} ({len(ms)}/{trials} trials)"] = (
                f"p50 {statistics.median(ms):.1f} ms, p99 {percentile(ms, 0.99):.1f} ms" if ms else "never refused")
        if getattr(args, "million", False):
            from postgres_million import measure_million
            gh.configure("postgres", {"url": database.url})
            more_rows, more_notes = measure_million(args, directory, database, gh, (client_id, secret), gatehouse_class, release,
                                                    wrk, summarize, token_script, pgbench_floor)
            rows += more_rows
            notes.update(more_notes)
    finally:
        database.stop()
        shutil.rmtree(database.directory, ignore_errors=True)
    return rows, notes


def report(args, rows, notes, ceiling):
    """The table, with each row beside the nginx ceiling, and cache-off issuance beside the pgbench floor."""
    print(f"\npostgres-store: wrk -t2 -c{args.connections}, {args.duration} s x {args.runs} runs; medians.")
    print(f"{'benchmark':<66}{'req/s':>10}{'x ceiling':>11}{'p99 ms':>9}  runs")
    for r in [ceiling] + rows:
        p99 = "" if r.get("floor") else f"{r['p99_ms']:.2f}"
        print(f"{r['label']:<66}{r['rate']:>10.0f}{r['rate'] / ceiling['rate']:>11.3f}{p99:>9}  {r['runs']}")
    floors = {("1,000,000" in r["label"]): r["rate"] for r in rows if r.get("floor")}
    for r in rows:
        floor = floors.get("1,000,000" in r["label"])
        if "postgres" in r["label"] and "cache off" in r["label"] and floor:
            notes[f"{r['label']}: x pgbench floor"] = f"{r['rate'] / floor:.3f}"
    for key, value in notes.items():
        print(f"{key:<66}  {value}")
