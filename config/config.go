// Package config reads leadbridge's configuration — environment variables
// and the optional YAML file named by LEADBRIDGE_CONFIG — into typed structs,
// validated once at start-up with messages that name the variable or YAML
// path at fault. Programs pass it a getenv function; nothing below cmd/
// reads the process environment.
package config

import (
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/leadbridge/leadbridge/emulator/devcreds"
	"github.com/leadbridge/leadbridge/forms"
	"github.com/leadbridge/leadbridge/webhook"
)

// Documented development defaults of the bundled Dataverse emulator. With no
// DATAVERSE_URL set, the worker delivers to the emulator with these. They
// are defined in devcreds, the one place the emulator reads them too.
const (
	EmulatorAddr         = devcreds.Addr
	EmulatorDataDir      = devcreds.DataDir
	EmulatorTenantID     = devcreds.TenantID
	EmulatorClientID     = devcreds.ClientID
	EmulatorClientSecret = devcreds.ClientSecret
)

// Redis says how to reach Redis: a URL, or Sentinel, or Cluster.
type Redis struct {
	URL       string
	Sentinels []string
	Master    string
	Cluster   []string

	// WaitReplicas > 0: intake answers 2xx only once that many replicas
	// hold the submission (Redis WAIT), waiting at most WaitTimeout; else
	// 503. Set on the API; the worker accepts and ignores it.
	WaitReplicas int
	WaitTimeout  time.Duration
}

// API is the configuration of cmd/api.
type API struct {
	Redis          Redis
	Addr           string
	APIToken       string
	TrustedProxies []*net.IPNet
	MaxBodyBytes   int64
	Retention      time.Duration // of discarded records (set by the status API)
	Forms          forms.Set
	Web            Web
	Sources        map[string]*webhook.Source // webhook sources, by id (POST /hooks/{id})
	Admin          Admin                      // the admin console's sign-in (admin.go)
	Keep           Retention                  // how long each kind of record is kept (retention.go)
}

// Dataverse is where and as whom the worker writes.
type Dataverse struct {
	URL           string // https://contoso.crm.dynamics.com
	TenantID      string
	ClientID      string
	AuthorityHost string
	CAFile        string // extra trusted CAs (PEM)
	Emulated      bool   // true when the defaults point at the bundled emulator

	// The credential: exactly one of a client secret, a certificate or a
	// federated token file (credentials.go; CredentialKind says which).
	ClientSecret string
	// CertificatePath is AZURE_CLIENT_CERTIFICATE_PATH; Certificates (the
	// private key's own first) and PrivateKey are what it holds, read at
	// start.
	CertificatePath string
	Certificates    []*x509.Certificate
	PrivateKey      *rsa.PrivateKey
	// SendCertificateChain (AZURE_CLIENT_SEND_CERTIFICATE_CHAIN) sends the
	// certificates with each assertion (x5c), for app registrations that
	// trust a certificate by subject name and issuer.
	SendCertificateChain bool
	// FederatedTokenFile is AZURE_FEDERATED_TOKEN_FILE, read again for
	// every token.
	FederatedTokenFile string
}

// Worker is the configuration of cmd/worker.
type Worker struct {
	Redis       Redis
	Addr        string
	Dataverse   Dataverse
	Concurrency int
	BatchSize   int    // LEADBRIDGE_BATCH_SIZE: the largest batch; 1 = one submission at a time
	BatchWrites string // LEADBRIDGE_BATCH_WRITES: bulk | changesets
	// LimitWindow (LEADBRIDGE_DATAVERSE_LIMIT_WINDOW) is the sliding window
	// of the environment's service protection limits, 5 minutes unless
	// Microsoft changes it; batches plan their execution time by it.
	LimitWindow        time.Duration
	RequestTimeout     time.Duration
	RetryHorizon       time.Duration
	DeliveredRetention time.Duration
	Forms              forms.Set
	Sources            map[string]*webhook.Source // for reading thin webhook leads (Meta, HubSpot) before delivery
	Alerts             Alerts                     // notifications of failed submissions (admin.go)
	Keep               Retention                  // how long each kind of record is kept (retention.go)
	// StrictConfig: a worker whose configuration check at start finds a
	// problem (a column the org lacks, a length or choice it refuses)
	// refuses to start; otherwise it logs the findings as warnings.
	StrictConfig bool
}

// loadLogging checks the logging variables every program reads.
func loadLogging(getenv Getenv) error {
	var errs []error
	switch getenv("LEADBRIDGE_LOG_FORMAT") {
	case "", "json", "text":
	default:
		errs = append(errs, fmt.Errorf("LEADBRIDGE_LOG_FORMAT: %q is not json or text", getenv("LEADBRIDGE_LOG_FORMAT")))
	}
	switch strings.ToLower(getenv("LEADBRIDGE_LOG_LEVEL")) {
	case "", "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("LEADBRIDGE_LOG_LEVEL: %q is not one of debug, info, warn, error", getenv("LEADBRIDGE_LOG_LEVEL")))
	}
	return errors.Join(errs...)
}

// Getenv is os.Getenv's shape, so tests pass a map instead.
type Getenv func(string) string

// LoadAPI reads and validates the API's configuration.
func LoadAPI(getenv Getenv) (API, error) {
	var errs []error
	c := API{
		Addr:         or(getenv("LEADBRIDGE_ADDR"), ":8080"),
		APIToken:     getenv("LEADBRIDGE_API_TOKEN"),
		MaxBodyBytes: 64 << 10,
		Retention:    30 * 24 * time.Hour,
	}
	errs = append(errs, durationVar(getenv, "LEADBRIDGE_DELIVERED_RETENTION", &c.Retention, time.Minute), loadLogging(getenv))
	r, err := loadRedis(getenv)
	errs = append(errs, err)
	c.Redis = r
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("LEADBRIDGE_ADDR: %q is not host:port (%v)", c.Addr, err))
	}
	if v := getenv("LEADBRIDGE_MAX_BODY_BYTES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1024 {
			errs = append(errs, fmt.Errorf("LEADBRIDGE_MAX_BODY_BYTES: %q is not a number of bytes ≥ 1024", v))
		}
		c.MaxBodyBytes = n
	}
	if c.APIToken != "" && len(c.APIToken) < 16 {
		errs = append(errs, errors.New("LEADBRIDGE_API_TOKEN: use at least 16 characters"))
	}
	for _, s := range splitList(getenv("LEADBRIDGE_TRUSTED_PROXIES")) {
		_, n, err := net.ParseCIDR(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("LEADBRIDGE_TRUSTED_PROXIES: %q is not a CIDR like 10.0.0.0/8", s))
			continue
		}
		c.TrustedProxies = append(c.TrustedProxies, n)
	}
	fs, err := LoadForms(getenv("LEADBRIDGE_CONFIG"), getenv)
	errs = append(errs, err)
	c.Forms = fs
	if err == nil {
		c.Sources, err = LoadSources(getenv("LEADBRIDGE_CONFIG"), getenv, fs)
		errs = append(errs, err)
	}
	w, err := loadWeb(getenv, fs)
	errs = append(errs, err)
	c.Web = w
	c.Admin, err = loadAdmin(getenv)
	errs = append(errs, err)
	c.Keep, err = loadRetention(getenv)
	errs = append(errs, err)
	return c, errors.Join(errs...)
}

// LoadWorker reads and validates the worker's configuration.
func LoadWorker(getenv Getenv) (Worker, error) {
	var errs []error
	c := Worker{
		Addr:               or(getenv("LEADBRIDGE_WORKER_ADDR"), ":9090"),
		Concurrency:        10,
		BatchSize:          100,
		BatchWrites:        "bulk",
		LimitWindow:        5 * time.Minute,
		RequestTimeout:     30 * time.Second,
		RetryHorizon:       72 * time.Hour,
		DeliveredRetention: 30 * 24 * time.Hour,
	}
	errs = append(errs, loadLogging(getenv))
	switch v := getenv("LEADBRIDGE_BATCH_WRITES"); v {
	case "":
	case "bulk", "changesets":
		c.BatchWrites = v
	default:
		errs = append(errs, fmt.Errorf("LEADBRIDGE_BATCH_WRITES: %q is not bulk or changesets", v))
	}
	r, err := loadRedis(getenv)
	errs = append(errs, err)
	c.Redis = r
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("LEADBRIDGE_WORKER_ADDR: %q is not host:port (%v)", c.Addr, err))
	}
	errs = append(errs,
		intVar(getenv, "LEADBRIDGE_WORKER_CONCURRENCY", &c.Concurrency, 1, 500),
		intVar(getenv, "LEADBRIDGE_BATCH_SIZE", &c.BatchSize, 1, 1000),
		durationVar(getenv, "LEADBRIDGE_REQUEST_TIMEOUT", &c.RequestTimeout, time.Second),
		durationVar(getenv, "LEADBRIDGE_DATAVERSE_LIMIT_WINDOW", &c.LimitWindow, time.Second),
		durationVar(getenv, "LEADBRIDGE_RETRY_HORIZON", &c.RetryHorizon, time.Minute),
		durationVar(getenv, "LEADBRIDGE_DELIVERED_RETENTION", &c.DeliveredRetention, time.Minute),
	)
	switch v := strings.ToLower(getenv("LEADBRIDGE_STRICT_CONFIG")); v {
	case "", "false", "0", "no", "off":
	case "true", "1", "yes", "on":
		c.StrictConfig = true
	default:
		errs = append(errs, fmt.Errorf("LEADBRIDGE_STRICT_CONFIG: %q is not true or false", getenv("LEADBRIDGE_STRICT_CONFIG")))
	}
	dv, err := loadDataverse(getenv)
	errs = append(errs, err)
	c.Dataverse = dv
	// The worker verifies no captcha: it checks the secrets' references
	// but needs none of their values in its environment.
	fs, err := loadForms(getenv("LEADBRIDGE_CONFIG"), checkReference)
	errs = append(errs, err)
	c.Forms = fs
	if err == nil {
		c.Sources, err = LoadSources(getenv("LEADBRIDGE_CONFIG"), getenv, fs)
		errs = append(errs, err)
	}
	c.Alerts, err = loadAlerts(getenv)
	errs = append(errs, err)
	c.Keep, err = loadRetention(getenv)
	errs = append(errs, err)
	return c, errors.Join(errs...)
}

// TaskSlots is how many tasks the worker runs at once. One at a time it is
// Concurrency. Batched, a task waits in its batch while it is delivered,
// so up to eight batches (the batcher's lanes) of BatchSize need a slot
// each.
func (w Worker) TaskSlots() int {
	if w.BatchSize <= 1 {
		return w.Concurrency
	}
	return max(w.Concurrency, 8*w.BatchSize)
}

func loadDataverse(getenv Getenv) (Dataverse, error) {
	d := Dataverse{
		URL:           strings.TrimRight(getenv("DATAVERSE_URL"), "/"),
		TenantID:      getenv("AZURE_TENANT_ID"),
		ClientID:      getenv("AZURE_CLIENT_ID"),
		AuthorityHost: strings.TrimRight(getenv("AZURE_AUTHORITY_HOST"), "/"),
		CAFile:        getenv("LEADBRIDGE_CA_FILE"),
	}
	if d.URL == "" {
		// The embedded default: the bundled emulator, as `make run` starts it.
		addr := or(getenv("EMULATOR_ADDR"), EmulatorAddr)
		d = Dataverse{
			URL:           "https://" + addr,
			TenantID:      or(getenv("EMULATOR_TENANT_ID"), EmulatorTenantID),
			ClientID:      or(getenv("EMULATOR_CLIENT_ID"), EmulatorClientID),
			ClientSecret:  or(getenv("EMULATOR_CLIENT_SECRET"), EmulatorClientSecret),
			AuthorityHost: "https://" + addr,
			CAFile:        or(d.CAFile, filepath.Join(or(getenv("EMULATOR_DATA_DIR"), EmulatorDataDir), "ca.pem")),
			Emulated:      true,
		}
		return d, nil
	}
	var errs []error
	if u, err := url.Parse(d.URL); err != nil || u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/") {
		errs = append(errs, fmt.Errorf("DATAVERSE_URL: %q must be the environment's https URL, like https://contoso.crm.dynamics.com", d.URL))
	}
	if d.TenantID == "" {
		errs = append(errs, errors.New("AZURE_TENANT_ID: required with DATAVERSE_URL (the Entra ID tenant of the app registration)"))
	}
	if d.ClientID == "" {
		errs = append(errs, errors.New("AZURE_CLIENT_ID: required with DATAVERSE_URL (the app registration's application id)"))
	}
	errs = append(errs, loadCredential(getenv, &d, time.Now()))
	if d.AuthorityHost == "" {
		d.AuthorityHost = "https://login.microsoftonline.com"
	} else if u, err := url.Parse(d.AuthorityHost); err != nil || u.Scheme != "https" || u.Host == "" {
		errs = append(errs, fmt.Errorf("AZURE_AUTHORITY_HOST: %q must be an https URL", d.AuthorityHost))
	}
	if d.CAFile != "" {
		if _, err := os.Stat(d.CAFile); err != nil {
			errs = append(errs, fmt.Errorf("LEADBRIDGE_CA_FILE: %v", err))
		}
	}
	return d, errors.Join(errs...)
}

func loadRedis(getenv Getenv) (Redis, error) {
	r := Redis{
		URL:       or(getenv("LEADBRIDGE_REDIS_URL"), "redis://127.0.0.1:6379/0"),
		Sentinels: splitList(getenv("LEADBRIDGE_REDIS_SENTINELS")),
		Master:    getenv("LEADBRIDGE_REDIS_MASTER"),
		Cluster:   splitList(getenv("LEADBRIDGE_REDIS_CLUSTER")),
	}
	errs := []error{loadRedisWait(getenv, &r)}
	if len(r.Sentinels) > 0 && r.Master == "" {
		errs = append(errs, errors.New("LEADBRIDGE_REDIS_MASTER: required with LEADBRIDGE_REDIS_SENTINELS"))
	}
	if len(r.Sentinels) > 0 && len(r.Cluster) > 0 {
		errs = append(errs, errors.New("LEADBRIDGE_REDIS_SENTINELS and LEADBRIDGE_REDIS_CLUSTER: set one, not both"))
	}
	for _, v := range []struct {
		name  string
		addrs []string
	}{{"LEADBRIDGE_REDIS_SENTINELS", r.Sentinels}, {"LEADBRIDGE_REDIS_CLUSTER", r.Cluster}} {
		for _, a := range v.addrs {
			if _, _, err := net.SplitHostPort(a); err != nil {
				errs = append(errs, fmt.Errorf("%s: %q is not host:port", v.name, a))
			}
		}
	}
	if _, err := r.options(); err != nil {
		errs = append(errs, fmt.Errorf("LEADBRIDGE_REDIS_URL: %v", err))
	}
	return r, errors.Join(errs...)
}

func intVar(getenv Getenv, name string, dst *int, min, max int) error {
	v := getenv(name)
	if v == "" {
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		return fmt.Errorf("%s: %q is not a whole number from %d to %d", name, v, min, max)
	}
	*dst = n
	return nil
}

func durationVar(getenv Getenv, name string, dst *time.Duration, min time.Duration) error {
	v := getenv(name)
	if v == "" {
		return nil
	}
	d, err := parseDuration(v)
	if err != nil || d < min {
		return fmt.Errorf("%s: %q is not a duration of at least %s (e.g. 90s, 72h, 30d)", name, v, min)
	}
	*dst = d
	return nil
}

// parseDuration is time.ParseDuration plus a "d" suffix for days, since
// retention periods are naturally said in days.
func parseDuration(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil {
			return 0, err
		}
		const day = 24 * time.Hour
		if days > int(math.MaxInt64/day) || days < -int(math.MaxInt64/day) {
			return 0, fmt.Errorf("%q is out of range", s)
		}
		return time.Duration(days) * day, nil
	}
	return time.ParseDuration(s)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
