package emulator

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/leadbridge/leadbridge/emulator/identity"
)

// Config is the emulator's live control configuration, the JSON shape of
// PUT /_emulator/config. In a patch every field is optional: absent fields
// keep their value.
type Config struct {
	// Limits are the service protection limits, per user (client id).
	Limits Limits `json:"limits"`
	// LatencyMS is added to every Web API operation (each operation of a
	// $batch) and is what the execution-time facet charges for it.
	LatencyMS int `json:"latency_ms"`
	// BulkRowPercent is what a target of a bulk operation message
	// (CreateMultiple, UpdateMultiple, UpsertMultiple) costs, in percent
	// of latency_ms, in time and execution time; a bulk message costs at
	// least latency_ms. 25 by default (opMS says why); 100 charges each
	// target as a single write.
	BulkRowPercent int `json:"bulk_row_percent"`
	// Faults injects failures.
	Faults Faults `json:"faults"`
	// TokenLifetimeSeconds is the expires_in of new tokens; a token is
	// refused once it has passed.
	TokenLifetimeSeconds int `json:"token_lifetime_seconds"`
	// AlternateKeys maps an entity set ("leads") to the columns of its one
	// alternate key; several columns make a composite key. In a patch, a
	// table's entry replaces that table's key and an empty list removes it.
	AlternateKeys map[string][]string `json:"alternate_keys"`
	// DuplicateDetection enables the default duplicate detection rules
	// (leads and contacts with the same emailaddress1). Like Dataverse, they
	// run only for requests that send MSCRM.SuppressDuplicateDetection: false.
	DuplicateDetection bool `json:"duplicate_detection"`
	// BlankErrorCodes makes every Web API error envelope, $batch parts
	// included, carry "code":"" with its usual status and message, as
	// several of Microsoft's documented examples show them (404 on
	// If-Match: * with no row, the 412s of conditional operations), while
	// real orgs send hex codes: a client must work with both.
	BlankErrorCodes bool `json:"blank_error_codes"`
	// MaxLengths maps an entity set ("leads") to text columns whose maximum
	// length this org has customized (a column shortened by its admins),
	// replacing the schema's standard length: a client whose own limits
	// follow the standard ones then meets Dataverse's length error. The
	// table definitions show the shortened MaxLength. In a patch, a table's entry replaces that table's, and an empty object
	// removes it.
	MaxLengths map[string]map[string]int `json:"max_lengths"`
	// Certificates are the app registration's certificate credentials, as
	// PEM (a CERTIFICATE block each): besides the client secret, the token
	// endpoint accepts a client assertion signed with one of their keys
	// while the certificate is valid. In a patch the list replaces the
	// previous one.
	Certificates []string `json:"certificates"`
	// FederatedCredentials are the app's federated identity credentials
	// (workload identity federation). In a patch the list replaces the
	// previous one.
	FederatedCredentials []FederatedCredential `json:"federated_credentials"`
	// Applications are further app registrations of the tenant, each an
	// application user of the environment with limits of its own (limits
	// are per user), signing in with a client secret. In a patch the list
	// replaces the previous one.
	Applications []Application `json:"applications"`
}

// Application is a further app registration: its client id (Entra's are
// GUIDs) and client secret.
type Application struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// FederatedCredential is one federated identity credential of the app: a
// token from Issuer about Subject, for one of Audiences (default
// api://AzureADTokenExchange), signed by one of IssuerKeys (PEM public keys
// or certificates: what Entra would read from the issuer's key set), is
// accepted as the app's credential.
type FederatedCredential struct {
	Name       string   `json:"name"`
	Issuer     string   `json:"issuer"`
	Subject    string   `json:"subject"`
	Audiences  []string `json:"audiences,omitempty"`
	IssuerKeys []string `json:"issuer_keys"`
}

// credentials parses the app's certificates and federated credentials for
// the token endpoint.
func (c Config) credentials() (identity.Credentials, error) {
	var creds identity.Credentials
	var errs []error
	for i, p := range c.Certificates {
		b, _ := pem.Decode([]byte(p))
		if b == nil || b.Type != "CERTIFICATE" {
			errs = append(errs, fmt.Errorf("certificates[%d]: not a PEM CERTIFICATE", i))
			continue
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			errs = append(errs, fmt.Errorf("certificates[%d]: %v", i, err))
			continue
		}
		creds.Certificates = append(creds.Certificates, cert)
	}
	for i, f := range c.FederatedCredentials {
		fc := identity.FederatedCredential{Name: f.Name, Issuer: f.Issuer, Subject: f.Subject, Audiences: f.Audiences}
		if f.Issuer == "" || f.Subject == "" {
			errs = append(errs, fmt.Errorf("federated_credentials[%d]: issuer and subject are required", i))
		}
		if len(f.IssuerKeys) == 0 {
			errs = append(errs, fmt.Errorf("federated_credentials[%d].issuer_keys: at least one key is required", i))
		}
		for k, p := range f.IssuerKeys {
			key, err := identity.ParsePublicKey([]byte(p))
			if err != nil {
				errs = append(errs, fmt.Errorf("federated_credentials[%d].issuer_keys[%d]: %v", i, k, err))
				continue
			}
			fc.IssuerKeys = append(fc.IssuerKeys, key)
		}
		creds.Federated = append(creds.Federated, fc)
	}
	return creds, errors.Join(errs...)
}

// Limits are the three facets of Dataverse's service protection limits. A
// zero value switches that facet off.
type Limits struct {
	// RequestsPerWindow caps requests per user within the sliding window.
	RequestsPerWindow int `json:"requests_per_window"`
	// WindowSeconds is the sliding window of the two windowed facets. It also
	// scales the wait after a concurrency refusal, so that shrinking the
	// window shrinks every Retry-After the emulator hands out.
	WindowSeconds int `json:"window_seconds"`
	// ExecutionMSPerWindow caps the combined execution time per user within
	// the window.
	ExecutionMSPerWindow int `json:"execution_ms_per_window"`
	// Concurrent caps a user's requests in flight; the excess fails at once.
	Concurrent int `json:"concurrent"`
}

// Faults make the Web API fail on purpose.
type Faults struct {
	// ErrorRate is the fraction (0 to 1) of Web API requests answered with
	// ErrorStatus instead of being processed.
	ErrorRate float64 `json:"error_rate"`
	// ErrorStatus is the 5xx status for ErrorRate; default 503.
	ErrorStatus int `json:"error_status"`
	// Down answers every Web API request 503 and fails token requests too.
	Down bool `json:"down"`
	// DropAfterWriteRate is the fraction (0 to 1) of admitted Web API
	// requests that can write (POST, PATCH, PUT, DELETE, $batch included)
	// whose write is applied and whose answer is then lost: the emulator
	// closes the connection (HTTP/1.1) or resets the stream (HTTP/2)
	// without a response, as when Dataverse commits and the network fails
	// on the way back. The client sees a transport error, not a status;
	// Stats.DroppedAfterWrite counts these.
	DropAfterWriteRate float64 `json:"drop_after_write_rate"`
}

// Stats are the counters served at GET /_emulator/stats. They cover the Web
// API and the identity endpoints, not the control surface or the HTML page,
// so that watching them does not change them.
type Stats struct {
	// RequestsTotal counts Web API and identity requests ($batch counts once).
	RequestsTotal int64 `json:"requests_total"`
	// ResponsesByStatus counts those requests by response status ("200").
	ResponsesByStatus map[string]int64 `json:"responses_by_status"`
	// MaxConcurrentSeen is the most Web API requests ever in the emulator at
	// once, from arrival to the end of the response, whatever their outcome
	// (refused ones included): it measures what clients did.
	MaxConcurrentSeen int64 `json:"max_concurrent_seen"`
	// EarlyRetries counts Web API requests from a user that arrived while
	// that user was under a Retry-After already sent to it, more than 250 ms
	// after the 429 that started the wait was written: requests arriving
	// within that grace were most likely in flight before the caller could
	// know. Each early retry also lengthens the wait (and is answered 429).
	EarlyRetries int64 `json:"early_retries"`
	// TokensIssued counts successful token responses.
	TokensIssued int64 `json:"tokens_issued"`
	// DroppedAfterWrite counts Web API requests whose write was applied and
	// whose answer was dropped (Faults.DropAfterWriteRate). They count in
	// RequestsTotal but, having no response, in no ResponsesByStatus entry.
	DroppedAfterWrite int64 `json:"dropped_after_write"`
	// WithoutClientRequestID counts Web API requests that carried neither
	// x-ms-client-request-id nor client-request-id (GET /_emulator/requests
	// lists them).
	WithoutClientRequestID int64 `json:"requests_without_client_request_id"`
}

// The documented Dataverse defaults (reference §1) and the token lifetime
// Entra commonly reports.
const (
	defaultRequestsPerWindow = 6000
	defaultWindowSeconds     = 300
	defaultExecutionMS       = 1_200_000
	defaultConcurrent        = 52
	defaultTokenLifetime     = 3599
	defaultBulkRowPercent    = 25
)

func defaultConfig() Config {
	return Config{
		Limits: Limits{
			RequestsPerWindow:    defaultRequestsPerWindow,
			WindowSeconds:        defaultWindowSeconds,
			ExecutionMSPerWindow: defaultExecutionMS,
			Concurrent:           defaultConcurrent,
		},
		Faults:               Faults{ErrorStatus: http.StatusServiceUnavailable},
		BulkRowPercent:       defaultBulkRowPercent,
		TokenLifetimeSeconds: defaultTokenLifetime,
	}
}

// mergeConfig applies a JSON patch onto base. Decoding into a copy gives the
// merge semantics for free: fields the patch names overwrite, the rest stay,
// and map entries are replaced key by key.
func mergeConfig(base Config, patch []byte) (Config, error) {
	next := base
	next.AlternateKeys = cloneKeys(base.AlternateKeys)
	if base.MaxLengths != nil {
		next.MaxLengths = make(map[string]map[string]int, len(base.MaxLengths))
		for set, cols := range base.MaxLengths {
			next.MaxLengths[set] = cols // replaced whole when a patch names the table
		}
	}
	// A list in the patch replaces the old one whole: decoding into the
	// old slice would write into the elements base shares.
	var keys map[string]json.RawMessage
	if json.Unmarshal(patch, &keys) == nil {
		if _, ok := keys["certificates"]; ok {
			next.Certificates = nil
		}
		if _, ok := keys["federated_credentials"]; ok {
			next.FederatedCredentials = nil
		}
		if _, ok := keys["applications"]; ok {
			next.Applications = nil
		}
	}
	dec := json.NewDecoder(bytes.NewReader(patch))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&next); err != nil {
		return base, fmt.Errorf("config: %w", err)
	}
	if dec.More() {
		return base, errors.New("config: trailing data after the JSON object")
	}
	for set, cols := range next.AlternateKeys {
		if len(cols) == 0 {
			delete(next.AlternateKeys, set)
		}
	}
	for set, cols := range next.MaxLengths {
		if len(cols) == 0 {
			delete(next.MaxLengths, set)
		}
	}
	if err := next.validate(); err != nil {
		return base, err
	}
	return next, nil
}

func (c Config) validate() error {
	var errs []error
	nonNeg := func(name string, v int) {
		if v < 0 {
			errs = append(errs, fmt.Errorf("%s is %d, want 0 (off) or more", name, v))
		}
	}
	nonNeg("limits.requests_per_window", c.Limits.RequestsPerWindow)
	nonNeg("limits.execution_ms_per_window", c.Limits.ExecutionMSPerWindow)
	nonNeg("limits.concurrent", c.Limits.Concurrent)
	nonNeg("latency_ms", c.LatencyMS)
	seen := map[string]bool{}
	for i, a := range c.Applications {
		if a.ClientID == "" || a.ClientSecret == "" || seen[a.ClientID] {
			errs = append(errs, fmt.Errorf("applications[%d]: want a client_id of its own and a client_secret", i))
		}
		seen[a.ClientID] = true
	}
	if c.BulkRowPercent < 1 || c.BulkRowPercent > 100 {
		errs = append(errs, fmt.Errorf("bulk_row_percent is %d, want 1 to 100", c.BulkRowPercent))
	}
	if c.Limits.WindowSeconds < 1 {
		errs = append(errs, fmt.Errorf("limits.window_seconds is %d, want 1 or more", c.Limits.WindowSeconds))
	}
	if c.TokenLifetimeSeconds < 1 {
		errs = append(errs, fmt.Errorf("token_lifetime_seconds is %d, want 1 or more", c.TokenLifetimeSeconds))
	}
	if c.Faults.ErrorRate < 0 || c.Faults.ErrorRate > 1 {
		errs = append(errs, fmt.Errorf("faults.error_rate is %v, want 0 to 1", c.Faults.ErrorRate))
	}
	if c.Faults.DropAfterWriteRate < 0 || c.Faults.DropAfterWriteRate > 1 {
		errs = append(errs, fmt.Errorf("faults.drop_after_write_rate is %v, want 0 to 1", c.Faults.DropAfterWriteRate))
	}
	if c.Faults.ErrorStatus < 500 || c.Faults.ErrorStatus > 599 {
		errs = append(errs, fmt.Errorf("faults.error_status is %d, want a 5xx status", c.Faults.ErrorStatus))
	}
	for set, cols := range c.AlternateKeys {
		t := schemaBySet[set]
		if t == nil {
			errs = append(errs, fmt.Errorf("alternate_keys: unknown table %q (want one of %s)", set, strings.Join(tableSets(), ", ")))
			continue
		}
		seen := map[string]bool{}
		for _, col := range cols {
			if seen[col] {
				errs = append(errs, fmt.Errorf("alternate_keys.%s: column %q listed twice", set, col))
			}
			seen[col] = true
			if !t.keyable(col) {
				errs = append(errs, fmt.Errorf("alternate_keys.%s: %q is not a column that can be part of a key", set, col))
			}
		}
	}
	for set, cols := range c.MaxLengths {
		t := schemaBySet[set]
		if t == nil {
			errs = append(errs, fmt.Errorf("max_lengths: unknown table %q (want one of %s)", set, strings.Join(tableSets(), ", ")))
			continue
		}
		for col, n := range cols {
			if cc := t.cols[col]; cc == nil || cc.kind != kindString || cc.readOnly {
				errs = append(errs, fmt.Errorf("max_lengths.%s: %q is not a text column a client writes", set, col))
			} else if n < 1 || n > 1_048_576 {
				errs = append(errs, fmt.Errorf("max_lengths.%s.%s is %d, want 1 to 1048576", set, col, n))
			}
		}
	}
	if _, err := c.credentials(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func cloneKeys(m map[string][]string) map[string][]string {
	if m == nil {
		return nil
	}
	out := make(map[string][]string, len(m))
	for k, v := range m {
		out[k] = slices.Clone(v)
	}
	return out
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only called on types that always marshal
	}
	return b
}
