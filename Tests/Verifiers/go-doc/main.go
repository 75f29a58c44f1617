// Runs the `verify` of Docs/verifying-tokens.md's Go snippet, which the test writes beside this file as
// snippet.go (with the host's issuer and algorithm), the way the doc says to use it: keys from the JWK Set.
//
//	go-doc ISSUER TOKEN...   prints "go-doc <n>: ok <sub>" or "go-doc <n>: refused <error>" per token
package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"

	jose "gopkg.in/square/go-jose.v2"
)

func main() {
	issuer, tokens := os.Args[1], os.Args[2:]
	response, err := http.Get(issuer + "/.well-known/jwks.json")
	if err != nil {
		fmt.Println("go-doc jwks: FAILED", err)
		os.Exit(1)
	}
	var keys jose.JSONWebKeySet
	err = json.NewDecoder(response.Body).Decode(&keys)
	response.Body.Close()
	if err != nil {
		fmt.Println("go-doc jwks: FAILED", err)
		os.Exit(1)
	}
	for number, token := range tokens {
		if claims, err := verify(&keys, token); err != nil {
			fmt.Printf("go-doc %d: refused %v\n", number+1, err)
		} else {
			fmt.Printf("go-doc %d: ok %s\n", number+1, claims.Subject)
		}
	}
}
