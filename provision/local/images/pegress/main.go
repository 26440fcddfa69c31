// pegress is the demo app of the local reference cluster: a small HTTP server that, on "/",
// fetches the URL configured in TARGET_URL and answers with that fetch's status and body.
// It makes the cluster's egress controls observable from outside the pod.
//
//	GET /         fetch TARGET_URL; answer with its status code and body
//	              (header X-Pegress-Upstream-Status), or 502 with the error when it fails
//	GET /healthz  "ok"
//
// Environment: TARGET_URL (the URL to fetch), SSL_CERT_FILE (optional CA bundle for https
// targets; Go's crypto/x509 reads it), LISTEN_ADDR (default ":8080"),
// FETCH_TIMEOUT (default "10s").
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

const maxBody = 1 << 20

func main() {
	addr := envOr("LISTEN_ADDR", ":8080")
	timeout, err := time.ParseDuration(envOr("FETCH_TIMEOUT", "10s"))
	if err != nil {
		log.Fatalf("pegress: bad FETCH_TIMEOUT: %v", err)
	}
	client := &http.Client{Timeout: timeout}

	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fetch(w, r, client)
	})

	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Printf("pegress: listening on %s (uid %d), TARGET_URL=%q", addr, os.Getuid(), os.Getenv("TARGET_URL"))
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("pegress: %v", err)
	}
}

func fetch(w http.ResponseWriter, r *http.Request, client *http.Client) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	target := os.Getenv("TARGET_URL")
	if target == "" {
		http.Error(w, "pegress: TARGET_URL is not set", http.StatusInternalServerError)
		return
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, target, nil)
	if err != nil {
		http.Error(w, "pegress: bad TARGET_URL: "+err.Error(), http.StatusInternalServerError)
		return
	}
	resp, err := client.Do(req)
	if err != nil {
		log.Printf("pegress: fetch %s: %v", target, err)
		http.Error(w, "pegress: fetch failed: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		log.Printf("pegress: read %s: %v", target, err)
		http.Error(w, "pegress: reading upstream body failed: "+err.Error(), http.StatusBadGateway)
		return
	}
	log.Printf("pegress: fetch %s: %s", target, resp.Status)
	w.Header().Set("X-Pegress-Upstream-Status", strconv.Itoa(resp.StatusCode))
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
