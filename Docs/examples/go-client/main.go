// A Gatehouse client in Go with golang.org/x/oauth2/clientcredentials (RFC 6749 §4.4): its token source fetches
// an access token, reuses it, and fetches a new one shortly before it expires.
//
//	GATEHOUSE=http://127.0.0.1:8080 CLIENT_ID=… CLIENT_SECRET=… \
//	  GO111MODULE=off GOPATH=/usr/share/gocode go run Docs/examples/go-client/main.go
//
// GOPATH=/usr/share/gocode uses Debian's golang-golang-x-oauth2-dev; with modules, `go get golang.org/x/oauth2`.
package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

func main() {
	base := os.Getenv("GATEHOUSE")
	config := clientcredentials.Config{
		ClientID:     os.Getenv("CLIENT_ID"),
		ClientSecret: os.Getenv("CLIENT_SECRET"),
		TokenURL:     base + "/api/v1/oauth/token",
		Scopes:       []string{"metrics"},
		// HTTP Basic (client_secret_basic), what Gatehouse prefers; the default, AuthStyleAutoDetect, tries it first too.
		AuthStyle: oauth2.AuthStyleInHeader,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// One token source for everything: it caches the token and renews it before it expires.
	source := config.TokenSource(ctx)
	token, err := source.Token()
	if err != nil {
		// A refusal is an *oauth2.RetrieveError carrying the RFC 6749 §5.2 body ("invalid_client", …).
		fmt.Fprintln(os.Stderr, "token:", err)
		os.Exit(1)
	}
	fmt.Printf("token: type %s, expires in %ds\n", token.Type(), int(time.Until(token.Expiry).Seconds()+0.5))

	client := oauth2.NewClient(ctx, source) // sends "Authorization: Bearer …" on every request
	response, err := client.Get(base + "/api/v1/metrics")
	if err != nil {
		fmt.Fprintln(os.Stderr, "metrics:", err)
		os.Exit(1)
	}
	defer response.Body.Close()
	if response.StatusCode != http.StatusOK {
		// 401/403 carry the reason in WWW-Authenticate (RFC 6750 §3).
		fmt.Fprintln(os.Stderr, "metrics:", response.Status, response.Header.Get("WWW-Authenticate"))
		os.Exit(1)
	}
	samples := 0
	scanner := bufio.NewScanner(response.Body)
	for scanner.Scan() {
		if line := scanner.Text(); line != "" && !strings.HasPrefix(line, "#") {
			samples++
		}
	}
	fmt.Printf("metrics: %s, %d samples\n", response.Status, samples)
}
