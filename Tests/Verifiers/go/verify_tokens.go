// Verifies Gatehouse access tokens with Debian's golang-gopkg-square-go-jose.v2-dev, the way a Go resource
// server would: RFC 8414 metadata, then jwks_uri, then signature, typ, iss, aud and exp.
//
//	verify_tokens [--audience AUD] ISSUER TOKEN...
//	    prints "go-jose <n>: ok <alg> <kid> <client_id>" or "go-jose <n>: FAILED <error>" per token;
//	    AUD is the audience expected (default gatehouse)
package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"time"

	jose "gopkg.in/square/go-jose.v2"
	"gopkg.in/square/go-jose.v2/jwt"
)

type accessClaims struct {
	jwt.Claims
	ClientID string `json:"client_id"`
	Scope    string `json:"scope"`
}

func fetch(url string, into interface{}) error {
	response, err := http.Get(url)
	if err != nil {
		return err
	}
	defer response.Body.Close()
	if response.StatusCode != 200 {
		return fmt.Errorf("%s answered %d", url, response.StatusCode)
	}
	return json.NewDecoder(response.Body).Decode(into)
}

func verify(keys *jose.JSONWebKeySet, issuer, audience, token string) (string, string, string, error) {
	parsed, err := jwt.ParseSigned(token)
	if err != nil {
		return "", "", "", err
	}
	header := parsed.Headers[0]
	if typ, _ := header.ExtraHeaders["typ"].(string); typ != "at+jwt" {
		return "", "", "", fmt.Errorf("typ is %q", typ)
	}
	found := keys.Key(header.KeyID)
	if len(found) != 1 {
		return "", "", "", fmt.Errorf("kid %q is not in the JWK Set", header.KeyID)
	}
	if found[0].Algorithm != header.Algorithm {
		return "", "", "", fmt.Errorf("alg %q does not match the key's %q", header.Algorithm, found[0].Algorithm)
	}
	var claims accessClaims
	if err := parsed.Claims(found[0].Key, &claims); err != nil {
		return "", "", "", err
	}
	expected := jwt.Expected{Issuer: issuer, Audience: jwt.Audience{audience}, Time: time.Now()}
	if err := claims.ValidateWithLeeway(expected, 0); err != nil {
		return "", "", "", err
	}
	return header.Algorithm, header.KeyID, claims.ClientID, nil
}

func main() {
	arguments, audience := os.Args[1:], "gatehouse"
	if len(arguments) > 1 && arguments[0] == "--audience" {
		audience, arguments = arguments[1], arguments[2:]
	}
	if len(arguments) == 0 {
		fmt.Println("usage: verify_tokens [--audience AUD] ISSUER TOKEN...")
		os.Exit(2)
	}
	issuer, tokens := arguments[0], arguments[1:]
	var metadata struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := fetch(issuer+"/.well-known/oauth-authorization-server", &metadata); err != nil || metadata.Issuer != issuer {
		fmt.Println("go-jose metadata: FAILED", err, metadata.Issuer)
		os.Exit(1)
	}
	var keys jose.JSONWebKeySet
	if err := fetch(metadata.JWKSURI, &keys); err != nil {
		fmt.Println("go-jose jwks: FAILED", err)
		os.Exit(1)
	}
	failed := false
	for number, token := range tokens {
		alg, kid, client, err := verify(&keys, issuer, audience, token)
		if err != nil {
			failed = true
			fmt.Printf("go-jose %d: FAILED %v\n", number+1, err)
		} else {
			fmt.Printf("go-jose %d: ok %s %s %s\n", number+1, alg, kid, client)
		}
	}
	if len(tokens) > 0 {
		tampered := []byte(tokens[0])
		last := len(tampered) - 2
		if tampered[last] == 'A' {
			tampered[last] = 'B'
		} else {
			tampered[last] = 'A'
		}
		if _, _, _, err := verify(&keys, issuer, audience, string(tampered)); err == nil {
			failed = true
			fmt.Println("go-jose tampered: ACCEPTED")
		} else {
			fmt.Println("go-jose tampered: refused")
		}
	}
	if failed {
		os.Exit(1)
	}
}
