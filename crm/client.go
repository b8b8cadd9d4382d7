// Package crm is leadbridge's client for the Dataverse Web API v9.2: it
// finds, creates and updates leads and contacts, authenticating as an
// application user with MSAL Go (client credentials) and pacing every call
// through the fleet-wide limiter so that service protection limits are
// respected by all workers together.
package crm

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Row is one Dataverse row as JSON: column name to value.
type Row map[string]any

// Config says where and as whom the client writes.
type Config struct {
	URL      string // environment URL, e.g. https://contoso.crm.dynamics.com
	TenantID string // Entra ID tenant
	ClientID string // app registration id
	// The app registration's credential, exactly one of: its secret; its
	// certificates (the private key's own first) and RSA private key; or
	// a file holding a federated token (workload identity), read again for
	// every token request.
	ClientSecret       string
	Certificates       []*x509.Certificate
	PrivateKey         *rsa.PrivateKey // Entra ID takes RSA-signed assertions only
	FederatedTokenFile string
	// SendCertificateChain sends Certificates with each client assertion
	// (its x5c header), for subject name and issuer authentication.
	SendCertificateChain bool
	// CredentialSource names where the credential came from (for the
	// worker, its environment variable), for sign-in errors.
	CredentialSource string
	AuthorityHost    string         // https://login.microsoftonline.com, or the emulator
	RootCAs          *x509.CertPool // nil = the system's
	Timeout          time.Duration  // per HTTP request; default 30 s
	Pacer            Pacer          // nil = unpaced: each call waits out its own 429s
	Logger           *slog.Logger
}

// Pacer decides when a request may be sent. Acquire blocks until then and
// returns a func that must be called with the response (nil if none came).
// *throttle.Limiter implements it.
type Pacer interface {
	Acquire(ctx context.Context) (done func(*http.Response), err error)
}

// Client calls one Dataverse environment. It is safe for concurrent use.
type Client struct {
	base    string // https://org/api/data/v9.2/
	http    *http.Client
	tokens  *tokenSource
	pacer   Pacer
	timeout time.Duration
	log     *slog.Logger
}

// maxThrottleRetries bounds how often one call is resent after 429s before
// the error is handed back to the caller (who reschedules the work).
const maxThrottleRetries = 8

// New returns a Client. It does not contact Dataverse; call WhoAmI to check
// the settings.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(cfg.URL, "/"))
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("crm: URL %q must be https://host", cfg.URL)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:     &tls.Config{RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConns:        200,
		MaxIdleConnsPerHost: 100,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   true,
	}
	// The client's own timeout is a backstop; each call also carries a
	// context deadline of cfg.Timeout.
	hc := &http.Client{Transport: tr, Timeout: cfg.Timeout + 5*time.Second}
	ts, err := newTokenSource(cfg, hc)
	if err != nil {
		return nil, err
	}
	return &Client{
		base:    u.Scheme + "://" + u.Host + "/api/data/v9.2/",
		http:    hc,
		tokens:  ts,
		pacer:   cfg.Pacer,
		timeout: cfg.Timeout,
		log:     cfg.Logger,
	}, nil
}

// request is one Web API call.
type request struct {
	method string
	path   string      // relative to /api/data/v9.2/, already escaped
	query  string      // raw, already escaped
	body   any         // marshalled as JSON when non-nil
	raw    []byte      // a body sent as it is (its Content-Type in header)
	header http.Header // extra headers
}

// response is what a successful call returned.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends r, waiting for the pacer, resending after 429s (the pacer makes
// every worker wait out Retry-After; without one, do waits itself) and once
// after a 401 with a fresh token.
func (c *Client) do(ctx context.Context, r request) (*response, error) {
	payload := r.raw
	if r.body != nil {
		var err error
		if payload, err = json.Marshal(r.body); err != nil {
			return nil, fmt.Errorf("encode body: %w", err)
		}
	}
	throttled, refreshed := 0, false
	for {
		resp, err := c.once(ctx, r, payload)
		if err != nil {
			return nil, err
		}
		switch {
		case resp.status == http.StatusTooManyRequests && throttled < maxThrottleRetries:
			throttled++
			// The table only: a path can hold a key, and keys hold emails.
			c.log.Debug("dataverse throttled; waiting", "method", r.method, "table", table(r.path), "retry_after", resp.header.Get("Retry-After"), "request_id", RequestIDFrom(ctx))
			if c.pacer == nil {
				// Nobody else holds the request back: resending before
				// Retry-After only lengthens the wait Dataverse imposes.
				if err := waitRetryAfter(ctx, resp.header); err != nil {
					return nil, err
				}
			}
			continue
		case resp.status == http.StatusUnauthorized && !refreshed:
			// The token may have been revoked or expired early: drop the
			// cached one and try once more with a new token.
			refreshed = true
			c.tokens.reset()
			continue
		case resp.status >= 400:
			return nil, parseAPIError(resp)
		}
		return resp, nil
	}
}

func (c *Client) once(ctx context.Context, r request, payload []byte) (*response, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	done := func(*http.Response) {}
	if c.pacer != nil {
		var err error
		if done, err = c.pacer.Acquire(ctx); err != nil {
			return nil, err
		}
	}
	tok, err := c.tokens.token(ctx)
	if err != nil {
		done(nil)
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	u := c.base + r.path
	if r.query != "" {
		u += "?" + r.query
	}
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		done(nil)
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("OData-MaxVersion", "4.0")
	req.Header.Set("OData-Version", "4.0")
	if r.method == http.MethodGet {
		req.Header.Set("If-None-Match", "null")
	}
	req.Header.Set("x-ms-client-request-id", ClientRequestID(RequestIDFrom(ctx)))
	if payload != nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	hr, err := c.http.Do(req)
	if err != nil {
		done(nil)
		return nil, netError(r.method, r.path, err)
	}
	defer hr.Body.Close()
	data, err := io.ReadAll(io.LimitReader(hr.Body, 32<<20))
	done(hr)
	if err != nil {
		return nil, netError(r.method, r.path, err)
	}
	return &response{status: hr.StatusCode, header: hr.Header, body: data}, nil
}

// WhoAmIResult identifies the application user.
type WhoAmIResult struct {
	UserID         string `json:"UserId"`
	BusinessUnitID string `json:"BusinessUnitId"`
	OrganizationID string `json:"OrganizationId"`
}

// WhoAmI checks the settings end to end (token, URL, application user) and
// primes the pacer with the environment's x-ms-dop-hint.
func (c *Client) WhoAmI(ctx context.Context) (WhoAmIResult, error) {
	var w WhoAmIResult
	resp, err := c.do(ctx, request{method: http.MethodGet, path: "WhoAmI"})
	if err != nil {
		return w, fmt.Errorf("crm: WhoAmI: %w", err)
	}
	if err := json.Unmarshal(resp.body, &w); err != nil {
		return w, fmt.Errorf("crm: WhoAmI: decode: %w", err)
	}
	return w, nil
}

// waitRetryAfter sleeps for the Retry-After of a 429 (a second when it has
// none), or until ctx ends.
func waitRetryAfter(ctx context.Context, h http.Header) error {
	d, _ := ParseRetryAfter(h.Get("Retry-After"), time.Now())
	if d <= 0 {
		d = time.Second
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// IsTimeout reports whether err is a timeout of a call to Dataverse.
func IsTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}
