"""Verifies Gatehouse access tokens the way a resource server would, with nothing but the issuer's URL:
fetch the RFC 8414 metadata, follow jwks_uri, check signature, typ, iss, aud and exp.

    python3 verify_tokens.py ISSUER TOKEN...     prints one "<library> <n>: ok <alg> <kid>" line per token and library
    python3 verify_tokens.py --jwks-uri URL ISSUER TOKEN...
                                                 the same with one host's JWK Set instead of the metadata's jwks_uri
                                                 (several hosts behind one issuer: each serves the union)
"""
import json
import sys
import urllib.request

import jwt
from authlib.jose import JsonWebKey, JsonWebToken

AUDIENCE = "gatehouse"


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


def main():
    arguments = sys.argv[1:]
    if arguments[:1] == ["--jwks-uri"]:
        document = {"issuer": arguments[2], "jwks_uri": arguments[1]}
        tokens = arguments[3:]
    else:
        document = metadata(arguments[0])
        tokens = arguments[1:]
    failed = False
    for number, token in enumerate(tokens, 1):
        for name, check in (("pyjwt", check_pyjwt), ("authlib", check_authlib)):
            try:
                header, claims = check(document, token)
                print(f"{name} {number}: ok {header['alg']} {header['kid']} {claims['client_id']}")
            except Exception as error:  # report every library's verdict, then fail
                failed = True
                print(f"{name} {number}: FAILED {type(error).__name__}: {error}")
    # A tampered token must fail in every library.
    if tokens:
        head, body, signature = tokens[0].split(".")
        tampered = ".".join([head, body, ("A" if signature[0] != "A" else "B") + signature[1:]])
        for name, check in (("pyjwt", check_pyjwt), ("authlib", check_authlib)):
            try:
                check(document, tampered)
                failed = True
                print(f"{name} tampered: ACCEPTED")
            except Exception:
                print(f"{name} tampered: refused")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
