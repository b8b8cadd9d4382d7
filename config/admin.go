package config

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"os"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Admin is the admin console's sign-in settings (cmd/api). The console is
// on when a user or Entra ID sign-in is configured.
type Admin struct {
	User         string // LEADBRIDGE_ADMIN_USER
	Password     string // LEADBRIDGE_ADMIN_PASSWORD, or
	PasswordHash []byte // LEADBRIDGE_ADMIN_PASSWORD_HASH (bcrypt)
	OIDC         OIDC
	PublicURL    string // LEADBRIDGE_PUBLIC_URL, without a trailing slash
	CAFile       string // LEADBRIDGE_CA_FILE: extra CAs for the Entra ID authority (e.g. the emulator's)
}

// Enabled reports whether anyone can sign in.
func (a Admin) Enabled() bool { return a.User != "" || a.OIDC.ClientID != "" }

// OIDC is sign-in with Entra ID (authorization code flow with PKCE), in
// the tenant the worker uses.
type OIDC struct {
	ClientID      string   // LEADBRIDGE_ADMIN_OIDC_CLIENT_ID
	ClientSecret  string   // LEADBRIDGE_ADMIN_OIDC_CLIENT_SECRET
	TenantID      string   // AZURE_TENANT_ID
	AuthorityHost string   // AZURE_AUTHORITY_HOST, https://login.microsoftonline.com by default
	Allowed       []string // LEADBRIDGE_ADMIN_OIDC_ALLOWED: user names, object ids, "group:<id>", or "*"
}

// minPasswordLen is the shortest plain password taken: a console that can
// release and edit every lead deserves more than a PIN.
const minPasswordLen = 12

func loadAdmin(getenv Getenv) (Admin, error) {
	a := Admin{
		User:      strings.TrimSpace(getenv("LEADBRIDGE_ADMIN_USER")),
		Password:  getenv("LEADBRIDGE_ADMIN_PASSWORD"),
		PublicURL: strings.TrimRight(getenv("LEADBRIDGE_PUBLIC_URL"), "/"),
		CAFile:    getenv("LEADBRIDGE_CA_FILE"),
		OIDC: OIDC{
			ClientID:      getenv("LEADBRIDGE_ADMIN_OIDC_CLIENT_ID"),
			ClientSecret:  getenv("LEADBRIDGE_ADMIN_OIDC_CLIENT_SECRET"),
			TenantID:      getenv("AZURE_TENANT_ID"),
			AuthorityHost: strings.TrimRight(or(getenv("AZURE_AUTHORITY_HOST"), "https://login.microsoftonline.com"), "/"),
			Allowed:       splitList(getenv("LEADBRIDGE_ADMIN_OIDC_ALLOWED")),
		},
	}
	var errs []error
	hash := getenv("LEADBRIDGE_ADMIN_PASSWORD_HASH")
	switch {
	case a.User == "" && (a.Password != "" || hash != ""):
		errs = append(errs, errors.New("LEADBRIDGE_ADMIN_USER: required with LEADBRIDGE_ADMIN_PASSWORD or LEADBRIDGE_ADMIN_PASSWORD_HASH"))
	case a.User != "" && a.Password == "" && hash == "":
		errs = append(errs, errors.New("LEADBRIDGE_ADMIN_PASSWORD: required with LEADBRIDGE_ADMIN_USER (or LEADBRIDGE_ADMIN_PASSWORD_HASH, a bcrypt hash)"))
	case a.Password != "" && hash != "":
		errs = append(errs, errors.New("LEADBRIDGE_ADMIN_PASSWORD and LEADBRIDGE_ADMIN_PASSWORD_HASH: set one, not both"))
	case a.Password != "" && len(a.Password) < minPasswordLen:
		errs = append(errs, fmt.Errorf("LEADBRIDGE_ADMIN_PASSWORD: use at least %d characters", minPasswordLen))
	case a.Password != "" && len(a.Password) > 72:
		errs = append(errs, errors.New("LEADBRIDGE_ADMIN_PASSWORD: use at most 72 bytes"))
	case hash != "":
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			errs = append(errs, fmt.Errorf("LEADBRIDGE_ADMIN_PASSWORD_HASH: not a bcrypt hash ($2a$/$2b$/$2y$…): %v", err))
		}
		a.PasswordHash = []byte(hash)
	}
	if len(a.User) > 200 {
		errs = append(errs, errors.New("LEADBRIDGE_ADMIN_USER: use at most 200 characters"))
	}
	if a.PublicURL != "" {
		if u, err := url.Parse(a.PublicURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			errs = append(errs, fmt.Errorf("LEADBRIDGE_PUBLIC_URL: %q must be the http(s) URL people reach leadbridge at, like https://leads.example.com", a.PublicURL))
		}
	}
	o := &a.OIDC
	switch {
	case o.ClientID == "" && (o.ClientSecret != "" || len(o.Allowed) > 0):
		errs = append(errs, errors.New("LEADBRIDGE_ADMIN_OIDC_CLIENT_ID: required with LEADBRIDGE_ADMIN_OIDC_CLIENT_SECRET and LEADBRIDGE_ADMIN_OIDC_ALLOWED"))
	case o.ClientID != "":
		if o.ClientSecret == "" {
			errs = append(errs, errors.New("LEADBRIDGE_ADMIN_OIDC_CLIENT_SECRET: required with LEADBRIDGE_ADMIN_OIDC_CLIENT_ID (a client secret of that app registration)"))
		}
		if o.TenantID == "" {
			errs = append(errs, errors.New("AZURE_TENANT_ID: required with LEADBRIDGE_ADMIN_OIDC_CLIENT_ID (the tenant people sign in with)"))
		}
		if len(o.Allowed) == 0 {
			errs = append(errs, errors.New(`LEADBRIDGE_ADMIN_OIDC_ALLOWED: required with LEADBRIDGE_ADMIN_OIDC_CLIENT_ID: who may sign in (user names, object ids, "group:<object id>", or "*" for everyone in the tenant)`))
		}
		if u, err := url.Parse(o.AuthorityHost); err != nil || u.Scheme != "https" || u.Host == "" {
			errs = append(errs, fmt.Errorf("AZURE_AUTHORITY_HOST: %q must be an https URL", o.AuthorityHost))
		}
		for _, v := range o.Allowed {
			if id, ok := strings.CutPrefix(v, "group:"); ok && id == "" {
				errs = append(errs, errors.New(`LEADBRIDGE_ADMIN_OIDC_ALLOWED: "group:" needs a group's object id`))
			}
		}
	}
	return a, errors.Join(errs...)
}

// Alerts are the worker's notifications of failed submissions.
type Alerts struct {
	WebhookURL   string        // LEADBRIDGE_ALERT_WEBHOOK_URL
	SMTPAddr     string        // LEADBRIDGE_ALERT_SMTP_ADDR, host:port
	SMTPUsername string        // LEADBRIDGE_ALERT_SMTP_USERNAME
	SMTPPassword string        // LEADBRIDGE_ALERT_SMTP_PASSWORD
	From         string        // LEADBRIDGE_ALERT_EMAIL_FROM
	To           []string      // LEADBRIDGE_ALERT_EMAIL_TO
	Every        time.Duration // LEADBRIDGE_ALERT_EVERY: at most one alert per period
	PublicURL    string        // LEADBRIDGE_PUBLIC_URL, for links to the console
}

func loadAlerts(getenv Getenv) (Alerts, error) {
	a := Alerts{
		WebhookURL:   getenv("LEADBRIDGE_ALERT_WEBHOOK_URL"),
		SMTPAddr:     getenv("LEADBRIDGE_ALERT_SMTP_ADDR"),
		SMTPUsername: getenv("LEADBRIDGE_ALERT_SMTP_USERNAME"),
		SMTPPassword: getenv("LEADBRIDGE_ALERT_SMTP_PASSWORD"),
		From:         getenv("LEADBRIDGE_ALERT_EMAIL_FROM"),
		To:           splitList(getenv("LEADBRIDGE_ALERT_EMAIL_TO")),
		Every:        15 * time.Minute,
		PublicURL:    strings.TrimRight(getenv("LEADBRIDGE_PUBLIC_URL"), "/"),
	}
	errs := []error{durationVar(getenv, "LEADBRIDGE_ALERT_EVERY", &a.Every, time.Minute)}
	if a.WebhookURL != "" {
		if u, err := url.Parse(a.WebhookURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, errors.New("LEADBRIDGE_ALERT_WEBHOOK_URL: must be an http(s) URL")) // never echoed: it may hold a token
		}
	}
	if a.SMTPAddr != "" {
		if _, _, err := net.SplitHostPort(a.SMTPAddr); err != nil {
			errs = append(errs, fmt.Errorf("LEADBRIDGE_ALERT_SMTP_ADDR: %q is not host:port (e.g. smtp.example.com:587)", a.SMTPAddr))
		}
		if _, err := mail.ParseAddress(a.From); err != nil {
			errs = append(errs, fmt.Errorf("LEADBRIDGE_ALERT_EMAIL_FROM: %q is not an e-mail address (required with LEADBRIDGE_ALERT_SMTP_ADDR)", a.From))
		}
		if len(a.To) == 0 {
			errs = append(errs, errors.New("LEADBRIDGE_ALERT_EMAIL_TO: required with LEADBRIDGE_ALERT_SMTP_ADDR (addresses, comma-separated)"))
		}
		for _, to := range a.To {
			if _, err := mail.ParseAddress(to); err != nil {
				errs = append(errs, fmt.Errorf("LEADBRIDGE_ALERT_EMAIL_TO: %q is not an e-mail address", to))
			}
		}
		if (a.SMTPUsername == "") != (a.SMTPPassword == "") {
			errs = append(errs, errors.New("LEADBRIDGE_ALERT_SMTP_USERNAME and LEADBRIDGE_ALERT_SMTP_PASSWORD: set both or neither"))
		}
	} else if a.From != "" || len(a.To) > 0 || a.SMTPUsername != "" {
		errs = append(errs, errors.New("LEADBRIDGE_ALERT_SMTP_ADDR: required with LEADBRIDGE_ALERT_EMAIL_FROM, _TO and the SMTP credentials"))
	}
	if a.PublicURL != "" {
		if u, err := url.Parse(a.PublicURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, fmt.Errorf("LEADBRIDGE_PUBLIC_URL: %q must be the http(s) URL people reach leadbridge at", a.PublicURL))
		}
	}
	return a, errors.Join(errs...)
}

// RootCAs is the system pool plus LEADBRIDGE_CA_FILE (for an Entra ID
// authority with a private CA, like the bundled emulator), or nil for the
// system pool alone.
func (a Admin) RootCAs() (*x509.CertPool, error) {
	if a.CAFile == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(a.CAFile)
	if err != nil {
		return nil, fmt.Errorf("LEADBRIDGE_CA_FILE: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("LEADBRIDGE_CA_FILE: %s holds no PEM certificate", a.CAFile)
	}
	return pool, nil
}
