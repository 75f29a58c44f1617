"""Clients as `gatehouse client add` writes them, made in bulk for the --million benchmarks: the CLI would take a
plugin start and a commit per client, hours for a million.

Each row is what StoreService.create stores: an id like ClientCommand.generatedID's (a slug of the name and six
random characters), the scopes as default scopes, enabled, no lifetime, a fresh 16-character instance
(SecureRandom.token(byteCount: 12)), and one secret of 43 base64url characters kept only as a salted SHA-256
verifier (SecretVerifier: `sha256-salted-v1$<salt>$<digest>`, 16 random salt bytes). Secrets are derived from a
seed and the row number, so the benchmark can authenticate as any of them without keeping a million secrets."""
import base64
import hashlib
import os

ID_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"


def b64url(data):
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def secret_of(seed, index):
    """The row's secret: 256 bits, as SecretStrength.generate spells them."""
    return b64url(hashlib.sha256(seed + index.to_bytes(8, "big")).digest())


def randomness(count):
    """The random bytes of `count` rows; pass the same bytes to `rows` twice to read the rows twice."""
    return os.urandom(count * 34)


def rows(count, seed, now, randomness):
    """(id, secret, client row, verifier) for each client, in a random-looking id order, as ids arrive in life."""
    for index in range(count):
        chunk = randomness[index * 34:(index + 1) * 34]
        suffix = "".join(ID_ALPHABET[b % len(ID_ALPHABET)] for b in chunk[:6])
        client_id = f"client-{index}-{suffix}"
        instance = b64url(chunk[6:18])
        salt = chunk[18:34]
        secret = secret_of(seed, index)
        verifier = f"sha256-salted-v1${b64url(salt)}${b64url(hashlib.sha256(salt + secret.encode()).digest())}"
        # Columns in the stores' order: id, name, role, allowed_scopes, default_scopes, token_lifetime, enabled,
        # created_at, updated_at, last_used_at, not_before, instance, public_keys.
        client = (client_id, f"client {index}", "", "metrics", "metrics", None, True, now, now, None, None, instance, None)
        yield client_id, secret, client, verifier


def copy_text(values):
    """One line of COPY's text format: tab-separated, \\N for NULL (none of our values holds a tab or a backslash)."""
    def field(value):
        if value is None:
            return "\\N"
        if value is True or value is False:
            return "t" if value else "f"
        return str(value)
    return "\t".join(field(v) for v in values) + "\n"


CLIENT_COLUMNS = ("id, name, role, allowed_scopes, default_scopes, token_lifetime, enabled, created_at, updated_at, "
                  "last_used_at, not_before, instance, public_keys")


def copy_into_postgres(psql_command, count, seed, now):
    """Loads `count` clients into postgres-store's tables with COPY through one psql session, in one transaction,
    triggers on: the change log gets its rows as if each client had been added by the CLI. Then VACUUM ANALYZE:
    autovacuum would start on tables this fresh within a minute and take both cores for a while, in the middle of
    the measurement; a database in service has long been vacuumed and analysed."""
    random_bytes = randomness(count)
    psql = __import__("subprocess").Popen(psql_command + ["-q", "-v", "ON_ERROR_STOP=1", "-f", "-"],
                                          stdin=__import__("subprocess").PIPE, text=True)
    write = psql.stdin.write
    write(f"BEGIN;\nCOPY gatehouse_clients ({CLIENT_COLUMNS}) FROM STDIN;\n")
    for _, _, client, _ in rows(count, seed, now, random_bytes):
        write(copy_text(client))
    write("\\.\nCOPY gatehouse_secrets (client_id, verifier, created_at, expires_at) FROM STDIN;\n")
    for client_id, _, _, verifier in rows(count, seed, now, random_bytes):
        write(copy_text((client_id, verifier, now, None)))
    write("\\.\nCOMMIT;\nVACUUM (ANALYZE) gatehouse_clients, gatehouse_secrets, gatehouse_changes;\n")
    psql.stdin.close()
    if psql.wait() != 0:
        raise SystemExit("bulk load into PostgreSQL failed (psql's message above)")
