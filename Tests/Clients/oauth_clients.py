#!/usr/bin/env python3
"""Fetch a token from Gatehouse with real OAuth client libraries and call a protected endpoint with it.

Usage: oauth_clients.py BASE_URL CLIENT_ID CLIENT_SECRET
Prints one line per library: "<library> <auth method>: ok <scope>"; exits non-zero on the first failure.
Run by Tests/HostTests/ClientLibraryTests.swift inside a venv with requests-oauthlib and authlib.
"""
import os
import sys

# OAuth 2.0 requires TLS and these libraries enforce it; the tests talk to Gatehouse on loopback without a
# TLS proxy, so allow plain HTTP here, and only here (never in production: see Docs/deployment.md).
os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")
os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")

from authlib.integrations.requests_client import OAuth2Session as AuthlibSession
from oauthlib.oauth2 import BackendApplicationClient
from requests_oauthlib import OAuth2Session as RequestsOAuthlibSession

base, client_id, client_secret = sys.argv[1:4]
token_url, metrics_url = f"{base}/api/v1/oauth/token", f"{base}/api/v1/metrics"


def check(library, method, session, token):
    assert token["token_type"].lower() == "bearer", token
    assert token["expires_in"] > 0, token
    scope = " ".join(token["scope"]) if isinstance(token["scope"], list) else token["scope"]  # requests-oauthlib splits it
    assert scope == "metrics", token
    response = session.get(metrics_url, timeout=5)
    assert response.status_code == 200, (response.status_code, response.text)
    assert "gatehouse_tokens_issued_total" in response.text
    print(f"{library} {method}: ok {scope}")


# requests-oauthlib, the client credentials ("backend application") flow: HTTP Basic.
session = RequestsOAuthlibSession(client=BackendApplicationClient(client_id=client_id, scope=["metrics"]))
token = session.fetch_token(token_url=token_url, client_id=client_id, client_secret=client_secret, timeout=5)
check("requests-oauthlib", "client_secret_basic", session, token)

# Authlib with both client authentication methods.
for method in ("client_secret_basic", "client_secret_post"):
    session = AuthlibSession(client_id, client_secret, token_endpoint_auth_method=method, scope="metrics")
    token = session.fetch_token(token_url, grant_type="client_credentials", timeout=5)
    check("authlib", method, session, token)

# A wrong secret must be refused the standard way.
session = AuthlibSession(client_id, client_secret + "x", token_endpoint_auth_method="client_secret_basic")
try:
    session.fetch_token(token_url, grant_type="client_credentials", timeout=5)
    sys.exit("a wrong secret got a token")
except Exception as error:  # authlib raises OAuthError with the RFC 6749 error code
    assert "invalid_client" in str(error), error
    print("authlib wrong secret: invalid_client")
