"""1,000,000 clients in postgres-store (Benchmarks/run --only postgres --million): issuance for a client of the big
table beside one of a small table, auth cache on and off, runs alternating so that drift falls on both alike; the
primary-key floor on the big table; serve-to-ready; the plans of every statement the plugin ran (auto_explain),
for sequential scans of the tables that grow; and `gatehouse client list` over the million."""
import os
import re
import subprocess
import sys
import time

import bulk_clients

MILLION = 1_000_000
SEED = b"gatehouse-million-benchmark"
GROWING = ("gatehouse_clients", "gatehouse_secrets", "gatehouse_changes", "gatehouse_revocations")


def psql_command(database, name):
    return ["psql", "-h", f"{database.directory}/socket", "-p", str(database.port), "-U", "postgres", "-d", name]


def psql(database, name, *statements):
    command = psql_command(database, name) + ["-qAt", "-v", "ON_ERROR_STOP=1"]
    for statement in statements:
        command += ["-c", statement]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def alternate(args, label_a, url_a, script_a, label_b, url_b, script_b, wrk, summarize):
    """Both after a warm-up each, then in turns, A B B A …, so that neither is always the one measured later
    (on a shared machine the second of a pair is not measured under the same load as the first)."""
    wrk(url_a, 2, args.connections, script=script_a)
    wrk(url_b, 2, args.connections, script=script_b)
    runs = {"a": [], "b": []}
    targets = {"a": (url_a, script_a), "b": (url_b, script_b)}
    for run in range(args.runs):
        for side in ("ab" if run % 2 == 0 else "ba"):
            url, script = targets[side]
            runs[side].append(wrk(url, args.duration, args.connections, script=script))
    return summarize(label_a, runs["a"]), summarize(label_b, runs["b"])


def scans_in_log(path, offset, sizes):
    """Statements whose logged plan (auto_explain) reads one of the growing tables whole, with the worst duration.
    A table of fewer than 10,000 rows (revocations, here) is read whole by the planner's choice, index or not: the
    test PostgresQueryPlanTests checks that an index could serve those statements."""
    with open(path, errors="replace") as log:
        log.seek(offset)
        text = log.read()
    found = {}
    for entry in re.split(r"\n(?=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", text):
        query = re.search(r"Query Text: (.*?)\n\t(?=[A-Z])", entry, re.S)
        tables = {t for t in re.findall(r"Seq Scan on (gatehouse_\w+)", entry) if t in GROWING and sizes.get(t, 0) >= 10_000}
        if query and tables and not query.group(1).lstrip().upper().startswith("EXPLAIN"):
            logged = re.search(r"duration: ([\d.]+) ms", entry)
            duration = float(logged.group(1)) if logged else 0.0
            key = " ".join(query.group(1).split())[:140]
            found[key] = (sorted(tables), max(duration, found.get(key, ([], 0))[1]))
    return found


def client_list(release, base):
    """`gatehouse client list` to /dev/null: seconds, lines, and the peak RSS of the CLI and its store plugin."""
    wrapper = ("import resource, subprocess, sys, time\nstart = time.monotonic()\n"
               "out = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, check=True).stdout\n"
               "print(time.monotonic() - start, out.count(b'\\n'), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", wrapper, f"{release}/gatehouse", "client", "list"] + base,
                         check=True, capture_output=True, text=True).stdout.split()
    return float(out[0]), int(out[1]), int(out[2])


def exercise(gh, release, client_id, secret):
    """What a host and an operator do, once each, so the plugin runs every statement it has: tokens (known,
    unknown and wrong), a revocation, disable and enable, a rotation, show, a removal; then the polls run."""
    token_url = gh.url + "/api/v1/oauth/token"
    def curl(*arguments):
        return subprocess.run(["curl", "-s"] + list(arguments), capture_output=True, text=True).stdout
    token = re.search(r'"access_token":"([^"]+)"', curl("-u", f"{client_id}:{secret}", "-d", "grant_type=client_credentials", token_url))
    curl("-u", f"nobody-here:{secret}", "-d", "grant_type=client_credentials", token_url)
    curl("-u", f"{client_id}:{secret}x", "-d", "grant_type=client_credentials", token_url)
    if token:
        curl("-u", f"{client_id}:{secret}", "-d", f"token={token.group(1)}", gh.url + "/api/v1/oauth/revoke")
    cli = [f"{release}/gatehouse", "client"]
    for action in (["disable", client_id], ["enable", client_id], ["show", client_id]):
        subprocess.run(cli + action + gh.base, check=True, capture_output=True)
    victim = gh.client("exercise")[0]
    subprocess.run(cli + ["rotate-secret", victim] + gh.base, check=True, capture_output=True)
    subprocess.run(cli + ["remove", victim] + gh.base, check=True, capture_output=True)
    time.sleep(3)  # the revocation poll (every second) and the health probe (every two)


def measure_million(args, directory, database, small, small_client, gatehouse_class, release, wrk, summarize, token_script,
                    pgbench_floor):
    """`small` is a stopped host on the small database with `small_client` (id, secret) in it."""
    rows, notes = [], {}
    psql(database, "postgres", "CREATE DATABASE gatehouse_million")
    big = gatehouse_class(os.path.join(directory, "million"), "postgres", {"url": database.url + "_million"})
    big.client("bench")  # migrates the empty database, as a first `client add` does
    began = time.monotonic()
    bulk_clients.copy_into_postgres(psql_command(database, "gatehouse_million"), MILLION, SEED, int(time.time()))
    notes["1M: bulk load (COPY, triggers on, VACUUM ANALYZE)"] = f"{time.monotonic() - began:.0f} s"
    middle = MILLION // 2
    big_id = psql(database, "gatehouse_million", f"SELECT id FROM gatehouse_clients WHERE name = 'client {middle}'").strip()
    big_client = (big_id, bulk_clients.secret_of(SEED, middle))
    small_script = token_script(directory, *small_client, "million-small")
    big_script = token_script(directory, *big_client, "million-big")
    for label, config in (("auth cache on", {}), ("auth cache off", {"authCacheMs": 0})):
        for gh, url in ((small, database.url), (big, database.url + "_million")):
            gh.configure("postgres", dict(config, url=url))
        ready_small, ready_big = small.start(), big.start()
        notes[f"serve to ready, {label}: small table / 1M clients"] = f"{ready_small * 1000:.0f} ms / {ready_big * 1000:.0f} ms"
        try:
            a, b = alternate(args, f"postgres: issuance, small table, {label}", small.url + "/api/v1/oauth/token", small_script,
                             f"postgres: issuance, 1,000,000 clients, {label}", big.url + "/api/v1/oauth/token", big_script,
                             wrk, summarize)
        finally:
            small.stop()
            big.stop()
        rows += [a, b]
        notes[f"1M / small table, {label}"] = f"{b['rate'] / a['rate']:.3f} (goal >= 0.90)" if a["rate"] else "n/a"
    floor = pgbench_floor(args, database, "gatehouse_million", big_id, "1,000,000 clients")
    rows.append(floor)
    # Every statement the plugin runs, planned and logged by auto_explain for the sessions of a fresh host.
    settings = ("session_preload_libraries = 'auto_explain'", "auto_explain.log_min_duration = 0",
                "auto_explain.log_nested_statements = on")
    log_path = os.path.join(database.directory, "server.log")
    offset = os.path.getsize(log_path)
    psql(database, "postgres", *[f"ALTER DATABASE gatehouse_million SET {s}" for s in settings])
    big.configure("postgres", {"url": database.url + "_million", "authCacheMs": 0})
    big.start()
    try:
        exercise(big, release, *big_client)
    finally:
        big.stop()
        psql(database, "postgres", "ALTER DATABASE gatehouse_million RESET ALL")
    sizes = {}
    for line in psql(database, "gatehouse_million", "SELECT relname, reltuples::bigint FROM pg_class WHERE relname LIKE 'gatehouse_%'").split():
        name, _, tuples = line.partition("|")
        sizes[name] = int(tuples)
    notes["1M: rows in clients / secrets / change log"] = " / ".join(
        f"{sizes.get(t, 0):,}" for t in ("gatehouse_clients", "gatehouse_secrets", "gatehouse_changes"))
    scans = scans_in_log(log_path, offset, sizes)
    purge = psql(database, "gatehouse_million", "EXPLAIN DELETE FROM gatehouse_changes WHERE changed_at < now() - interval '1 hour'")
    if "Seq Scan" in purge:
        scans["(listener's purge, EXPLAIN) DELETE FROM gatehouse_changes WHERE changed_at < ..."] = (["gatehouse_changes"], 0)
    notes["1M: statements that read a growing table whole"] = "none" if not scans else f"{len(scans)}, below"
    for query, (tables, worst) in scans.items():
        notes[f"  seq scan of {', '.join(tables)} ({worst:.1f} ms)"] = query
    seconds, lines, peak_kb = client_list(release, big.base)
    notes["1M: gatehouse client list (to /dev/null)"] = f"{seconds:.1f} s, {lines} lines, peak RSS {peak_kb / 1024:.0f} MB"
    return rows, notes
