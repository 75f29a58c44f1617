"""Verifies Gatehouse access tokens the way a resource server would, with nothing but the issuer's URL:
fetch the RFC 8414 metadata, follow jwks_uri, check signature, typ, iss, aud and exp.

    python3 verify_tokens.py ISSUER TOKEN...     prints one "<library> <n>: ok <alg> <kid>" line per token and library
    python3 verify_tokens.py --jwks-uri URL ISSUER TOKEN...
                                                 the same with one host's JWK Set instead of the metadata's jwks_uri
                                                 (several hosts behind one issuer: each serves the union)
    --audience AUD                               expect AUD in `aud` (default gatehouse); a refusal prints
                                                 "<library> <n>: FAILED <error class>: <message>"
    --doc FILE                                   also "python-doc <n>: ok <client_id>" from the `verify` of FILE
                                                 (Docs/verifying-tokens.md's snippet, as the test wrote it out)
"""
import importlib.util
import json
import sys
import urllib.request

import jwt
from authlib.jose import JsonWebKey, JsonWebToken

AUDIENCE = "gatehouse"


def load(path):
    spec = importlib.util.spec_from_file_location("doc_snippet", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def metadata(issuer):
    with urllib.request.urlopen(issuer.rstrip("/") + "/.well-known/oauth-authorization-server") as response:
        document = json.load(response)
    assert document["issuer"] == issuer, document
    return document


def check_pyjwt(document, token):
    client = jwt.PyJWKClient(document["jwks_uri"], cache_keys=False)
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "at+jwt", header  # RFC 9068 §4: resource servers MUST check typ.
    key = client.get_signing_key_from_jwt(token)
    claims = jwt.decode(token, key.key, algorithms=[header["alg"]], audience=AUDIENCE, issuer=document["issuer"],
                        options={"require": ["exp", "iat", "iss", "aud", "sub", "client_id", "jti"]})
    return header, claims


def check_authlib(document, token):
    with urllib.request.urlopen(document["jwks_uri"]) as response:
        keys = JsonWebKey.import_key_set(json.load(response))
    header = jwt.get_unverified_header(token)
    verifier = JsonWebToken([header["alg"]])
    claims = verifier.decode(token, keys, claims_options={
        "iss": {"essential": True, "value": document["issuer"]},
        "aud": {"essential": True, "value": AUDIENCE},
        "exp": {"essential": True},
    })
    claims.validate()
    assert claims.header["typ"] == "at+jwt", claims.header
    return claims.header, claims


def described(check):
    """`check` as the text of an "ok" line: alg, kid and client_id."""
    def run(document, token):
        header, claims = check(document, token)
        return f"{header['alg']} {header['kid']} {claims['client_id']}"
    return run


def main():
    global AUDIENCE
    arguments = sys.argv[1:]
    jwks_uri, doc = None, None
    while arguments[:1] and arguments[0].startswith("--"):
        flag, value, arguments = arguments[0], arguments[1], arguments[2:]
        if flag == "--jwks-uri":
            jwks_uri = value
        elif flag == "--audience":
            AUDIENCE = value
        elif flag == "--doc":
            doc = load(value)
        else:
            sys.exit(f"unknown flag {flag}")
    document = {"issuer": arguments[0], "jwks_uri": jwks_uri} if jwks_uri else metadata(arguments[0])
    tokens = arguments[1:]
    checks = [("pyjwt", described(check_pyjwt)), ("authlib", described(check_authlib))]
    if doc:
        checks.append(("python-doc", lambda _, token: doc.verify(token)["client_id"]))
    failed = False
    for number, token in enumerate(tokens, 1):
        for name, check in checks:
            try:
                print(f"{name} {number}: ok {check(document, token)}")
            except Exception as error:  # report every library's verdict, then fail
                failed = True
                print(f"{name} {number}: FAILED {type(error).__name__}: {error}")
    # A tampered token must fail in every library (and in the doc's snippet).
    if tokens:
        head, body, signature = tokens[0].split(".")
        tampered = ".".join([head, body, ("A" if signature[0] != "A" else "B") + signature[1:]])
        for name, check in checks:
            try:
                check(document, tampered)
                failed = True
                print(f"{name} tampered: ACCEPTED")
            except Exception:
                print(f"{name} tampered: refused")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
