// Command healthcheck is the containers' health probe. The image is
// distroless — no shell, no curl — so docker-compose.yml's health checks run
// this: it GETs a URL and exits 0 when the answer is 2xx, 1 otherwise.
//
//	healthcheck [-ca FILE] [-publish-ca PATH] URL
//
// -ca trusts only the CA certificate in FILE for an https URL (the
// emulator's ca.pem). -publish-ca copies that certificate to PATH once the
// URL has answered through it: docker-compose.yml uses it to hand the worker
// the emulator's ca.pem through a volume that does not hold the CA's key.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		os.Exit(1)
	}
}

const usage = "usage: healthcheck [-ca FILE] [-publish-ca PATH] URL"

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	caFile := fs.String("ca", "", "trust only this CA certificate (PEM) for https")
	publish := fs.String("publish-ca", "", "copy the -ca file here once the URL has answered")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w\n%s", err, usage)
	}
	if fs.NArg() != 1 {
		return errors.New(usage)
	}
	if *publish != "" && *caFile == "" {
		return errors.New("-publish-ca needs -ca")
	}
	url := fs.Arg(0)

	// A transport of its own: no proxy from the environment, and only the
	// given CA when there is one.
	tr := &http.Transport{}
	var caPEM []byte
	if *caFile != "" {
		var err error
		if caPEM, err = os.ReadFile(*caFile); err != nil {
			return err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			return fmt.Errorf("%s holds no PEM certificate", *caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	}
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if *publish != "" {
		return publishFile(*publish, caPEM)
	}
	return nil
}

// publishFile writes data to path unless path already holds it. It writes a
// temporary file beside path and renames it, so a reader never sees half a
// certificate.
func publishFile(path string, data []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".publish-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
