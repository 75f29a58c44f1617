#!/usr/bin/env python3
"""Secretless clients against Gatehouse: private_key_jwt (RFC 7523 §2.2, OIDC Core §9) and the JWT-bearer
grant (RFC 7523 §2.1), with real client code.

Usage: secretless_clients.py BASE_URL CLIENT_ID KEY_DIR MODE
KEY_DIR holds rsa.pem, ed25519.pem (private keys, PKCS#8, from openssl genpkey) and their kids in rsa.kid,
ed25519.kid. MODE is "all" (every check below) or "rsa-works" / "rsa-refused" (one private_key_jwt
request with the RSA key: expected to succeed / to get invalid_client).
Prints one line per check ("<check>: ok ..."); exits non-zero on the first failure.
"""
import base64
import hashlib
import hmac
import json
import os
import sys
import time
import uuid
import urllib.error
import urllib.parse
import urllib.request

os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")  # plain HTTP on loopback in tests only

from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import jwt
from authlib.oauth2.rfc7523 import PrivateKeyJWT

base, client_id, key_dir, mode = sys.argv[1:5]
token_url, metrics_url = f"{base}/api/v1/oauth/token", f"{base}/api/v1/metrics"
rsa_key = open(os.path.join(key_dir, "rsa.pem")).read()
rsa_kid = open(os.path.join(key_dir, "rsa.kid")).read().strip()
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def post(form):
    """POST a form to the token endpoint; (status, JSON body)."""
    request = urllib.request.Request(token_url, data=urllib.parse.urlencode(form).encode(),
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def use(token):
    request = urllib.request.Request(metrics_url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200 and b"gatehouse_tokens_issued_total" in response.read()


def prometheus_assertion(key=rsa_key, kid=rsa_kid, alg="RS256", **overrides):
    """Exactly what prometheus/common config/oauth_assertion.go (Prometheus >= 3.9, grant_type
    urn:ietf:params:oauth:grant-type:jwt-bearer) signs: golang-jwt's header {alg, typ: JWT} plus kid when
    client_certificate_key_id is set; claims iss = sub = client_id, a UUID jti, aud = token_url, iat, exp
    10 minutes on, and scope (space-separated) when scopes are configured."""
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "jti": str(uuid.uuid4()), "aud": token_url, "iat": now,
              "exp": now + 600, "scope": "metrics"}
    claims.update(overrides)
    header = {"alg": alg, "typ": "JWT"}
    if kid:
        header["kid"] = kid
    return jwt.encode(header, claims, key).decode()


def prometheus_grant(assertion):
    # Prometheus sends grant_type, assertion and scope; no client_id, no client authentication.
    return post({"grant_type": JWT_BEARER, "assertion": assertion, "scope": "metrics"})


def key_jwt(assertion):
    return post({"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
                 "client_assertion": assertion})


def expect_refused(check, status, body, code):
    assert body.get("error") == code, (check, status, body)
    assert "access_token" not in body, body
    print(f"{check}: refused {code}")


def authlib_session(key, kid, alg):
    # Authlib's stock private_key_jwt: iss = sub = client_id, aud = token endpoint, a random jti, 1 h exp.
    auth = PrivateKeyJWT(token_url, headers={"kid": kid}, alg=alg)
    session = OAuth2Session(client_id, key, token_endpoint_auth_method=auth, scope="metrics")
    session.register_client_auth_method(auth)
    return session


if mode in ("rsa-works", "rsa-refused"):
    status, body = key_jwt(prometheus_assertion())
    if mode == "rsa-works":
        assert status == 200, (status, body)
        print("rsa key: ok")
    else:
        expect_refused("rsa key", status, body, "invalid_client")
    sys.exit(0)

# Authlib PrivateKeyJWT, RS256 and EdDSA.
session = authlib_session(rsa_key, rsa_kid, "RS256")
token = session.fetch_token(token_url, grant_type="client_credentials")
assert token["scope"] == "metrics", token
use(token["access_token"])
print("authlib private_key_jwt RS256: ok")
ed_key = open(os.path.join(key_dir, "ed25519.pem")).read()
ed_kid = open(os.path.join(key_dir, "ed25519.kid")).read().strip()
token = authlib_session(ed_key, ed_kid, "EdDSA").fetch_token(token_url, grant_type="client_credentials")
use(token["access_token"])
print("authlib private_key_jwt EdDSA: ok")

# Prometheus's jwt-bearer grant, with and without kid.
status, body = prometheus_grant(prometheus_assertion())
assert status == 200 and body["scope"] == "metrics" and body["token_type"] == "Bearer", (status, body)
use(body["access_token"])
print("prometheus jwt-bearer: ok")
status, body = prometheus_grant(prometheus_assertion(kid=None))
assert status == 200, (status, body)
print("prometheus jwt-bearer without kid: ok")

# Replay: the same assertion twice, for either use.
assertion = prometheus_assertion()
assert prometheus_grant(assertion)[0] == 200
expect_refused("replayed grant", *prometheus_grant(assertion), "invalid_grant")
expect_refused("replayed as client assertion", *key_jwt(assertion), "invalid_client")

now = int(time.time())
expect_refused("expired", *key_jwt(prometheus_assertion(iat=now - 700, exp=now - 100)), "invalid_client")
expect_refused("wrong audience", *key_jwt(prometheus_assertion(aud="https://other.example/token")), "invalid_client")
expect_refused("lifetime too long", *key_jwt(prometheus_assertion(exp=now + 7200)), "invalid_client")
expect_refused("issued in the future", *key_jwt(prometheus_assertion(iat=now + 600, exp=now + 900)), "invalid_client")
expect_refused("not yet valid", *key_jwt(prometheus_assertion(nbf=now + 600)), "invalid_client")
expect_refused("no jti", *key_jwt(prometheus_assertion(jti="")), "invalid_client")
expect_refused("no exp", *key_jwt(prometheus_assertion(exp=None)), "invalid_client")
expect_refused("other subject", *key_jwt(prometheus_assertion(sub="someone-else")), "invalid_client")
expect_refused("unknown kid", *key_jwt(prometheus_assertion(kid="no-such-key")), "invalid_client")

# alg none, and HS256 keyed with the public key (the classic confusion): both refused.
def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


public_pem = open(os.path.join(key_dir, "rsa.pub.pem")).read()
hs_input = b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": rsa_kid}).encode()) + "." + b64url(json.dumps(
    {"iss": client_id, "sub": client_id, "aud": token_url, "exp": now + 300, "jti": str(uuid.uuid4())}).encode())
hs = hs_input + "." + b64url(hmac.new(public_pem.encode(), hs_input.encode(), hashlib.sha256).digest())
expect_refused("HS256 with the public key", *key_jwt(hs), "invalid_client")
signed = prometheus_assertion().split(".")
none_header = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
expect_refused("alg none", *key_jwt(f"{none_header}.{signed[1]}."), "invalid_client")

# Another method beside the assertion is invalid_request (RFC 6749 §2.3).
status, body = post({"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
                     "client_assertion": prometheus_assertion(), "client_secret": "x" * 43, "client_id": client_id})
expect_refused("assertion with a secret", status, body, "invalid_request")
status, body = post({"grant_type": "client_credentials", "client_id": client_id, "client_secret": "x" * 43})
expect_refused("a secret for a secretless client", status, body, "invalid_client")
print("all: ok")
