"""private_key_jwt issuance for Benchmarks/run.py --assertions: RS256 and EdDSA client assertions beside
client-secret issuance on the same host, each also as a fraction of libcrypto's raw verification rate on the
same cores (`openssl speed -multi <cores>`), measured in the same run.

Every request needs a fresh jti (Gatehouse accepts one once), and wrk's Lua cannot sign, so the assertions
are signed in advance (python3-cryptography) and each wrk thread walks its own share of the file.
"""
import base64
import json
import os
import re
import subprocess
import time
import uuid


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_assertions(path, key, alg, client_id, token_url, count):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    header = b64(json.dumps({"alg": alg, "typ": "JWT", "kid": alg}).encode())
    now = int(time.time())
    with open(path, "w") as out:
        for _ in range(count):
            claims = b64(json.dumps({"iss": client_id, "sub": client_id, "aud": token_url, "iat": now, "exp": now + 3000,
                                     "jti": str(uuid.uuid4())}).encode())
            data = f"{header}.{claims}".encode()
            signature = key.sign(data, padding.PKCS1v15(), hashes.SHA256()) if alg == "RS256" else key.sign(data)
            out.write(f"{header}.{claims}.{b64(signature)}\n")


def wrk_script(directory, name, assertions):
    path = os.path.join(directory, f"{name}.lua")
    with open(path, "w") as f:
        f.write(f"""
local counter = 0
function setup(thread) counter = counter + 1; thread:set("id", counter) end
function init(args)
  lines = {{}}
  for line in io.lines("{assertions}") do lines[#lines + 1] = line end
  step, index = 2, id  -- two wrk threads: odd and even lines, so no assertion is sent twice
end
function request()
  local assertion = lines[index] or lines[1]
  index = index + step
  return wrk.format("POST", nil, {{["Content-Type"] = "application/x-www-form-urlencoded"}},
    "grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=" .. assertion)
end
""")
    return path


def openssl_verify_rates(seconds=3):
    """Verifications per second on all cores, rsa2048 and ed25519: one `openssl speed` process per core at
    once, summed (the last column of its table: "sign verify sign/s verify/s"). Not `-multi`: OpenSSL 3.0
    adds up EdDSA results of its children wrongly (it reports a third of the single-process rate)."""
    command = ["openssl", "speed", "-seconds", str(seconds), "rsa2048", "ed25519"]
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
                 for _ in range(os.cpu_count() or 1)]
    rates = {"rsa2048": 0.0, "ed25519": 0.0}
    for process in processes:
        output, _ = process.communicate()
        for line in output.splitlines():
            key = "rsa2048" if re.match(r"\s*rsa\s+2048 bits\s+[\d.]+s", line) else "ed25519" if "EdDSA (Ed25519)" in line else None
            numbers = re.findall(r"\d+\.\d+", line)
            if key and len(numbers) >= 4:
                rates[key] += float(numbers[-1])
    return rates


def run(args, directory, binary, gatehouse_class, measure, wrk, summarize, token_script, results, extras):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
    gh = gatehouse_class(os.path.join(directory, "assertions"), "sqlite")
    # EdDSA tokens: an RS256 token signature costs far more than verifying an assertion and would hide it.
    config_path = os.path.join(gh.directory, "gatehouse.json")
    config = json.load(open(config_path))
    config["token"] = {"signing_algorithm": "EdDSA"}
    json.dump(config, open(config_path, "w"))
    gh.start()
    token_url = gh.url + "/api/v1/oauth/token"
    client_id, secret = gh.client("bench-secret")
    results.append(measure("assertions host (EdDSA tokens): issuance, client secret", args, token_url,
                           script=token_script(directory, client_id, secret, "assertions-secret")))
    for alg, key in (("RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
                     ("EdDSA", ed25519.Ed25519PrivateKey.generate())):
        pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        pem_path = os.path.join(directory, f"{alg}.pub.pem")
        open(pem_path, "wb").write(pem)
        name = f"bench-{alg.lower()}"
        subprocess.run([binary, "client", "add", "--name", name, "--id", name, "--scope", "metrics", "--public-key", pem_path,
                        "--key-id", alg] + gh.base, capture_output=True, text=True, check=True)
        # One file per wrk invocation (the warm-up, then each run): each starts at its file's first line.
        began = time.monotonic()
        scripts = []
        for index, seconds in enumerate([1] + [args.duration] * args.runs):
            path = os.path.join(directory, f"{alg}-{index}.assertions")
            make_assertions(path, key, alg, name, token_url, int(args.assertion_rate * seconds * 1.3))
            scripts.append(wrk_script(directory, f"assertions-{alg}-{index}", path))
        extras[f"assertions: {alg} assertions signed in advance"] = f"{time.monotonic() - began:.0f} s"
        wrk(token_url, 1, args.connections, script=scripts[0])
        # Only successes count: a run that used up its assertions goes on with replays (refused, then 429s).
        runs = [(rate - errors / args.duration, p99, errors) for rate, p99, errors in
                (wrk(token_url, args.duration, args.connections, script=script) for script in scripts[1:])]
        results.append(summarize(f"assertions host (EdDSA tokens): issuance, private_key_jwt {alg}", runs))
    gh.stop()
    rates = openssl_verify_rates()
    extras["openssl speed verify/s, all cores: rsa2048"] = f"{rates['rsa2048']:.0f}"
    extras["openssl speed verify/s, all cores: ed25519"] = f"{rates['ed25519']:.0f}"
    for result in results[-2:]:
        reference = rates["rsa2048"] if "RS256" in result["label"] else rates["ed25519"]
        extras[f"{result['label'][len('assertions host (EdDSA tokens): '):]} / raw verify rate"] = f"{result['rate'] / reference:.3f}"
