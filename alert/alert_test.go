package alert

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/leadbridge/leadbridge/internal/testenv"
	"github.com/leadbridge/leadbridge/submission"
)

// receiver is a local webhook endpoint that keeps what it is sent.
type receiver struct {
	mu   sync.Mutex
	got  []Summary
	raw  []string
	fail bool
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.fail {
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	var s Summary
	_ = json.Unmarshal(body, &s)
	rc.got = append(rc.got, s)
	rc.raw = append(rc.raw, string(body))
}

func (rc *receiver) summaries() []Summary {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]Summary(nil), rc.got...)
}

type fixture struct {
	store *submission.Store
	a     *Alerter
	hook  *receiver
}

func newFixture(t *testing.T, cfg Config) *fixture {
	t.Helper()
	rdb := testenv.StartRedis(t).Client()
	store := submission.NewStore(rdb, time.Hour)
	hook := &receiver{}
	srv := httptest.NewServer(hook)
	t.Cleanup(srv.Close)
	if cfg.WebhookURL == "" && cfg.SMTP.Addr == "" {
		cfg.WebhookURL = srv.URL + "/hooks/T000/B000/secret-token"
	}
	f := &fixture{store: store, a: New(rdb, store, cfg, slog.New(slog.DiscardHandler)), hook: hook}
	// The first check starts the watch: failures from before it are the
	// console's to show, not news.
	if f.check(t) {
		t.Fatal("an alert with nothing failed")
	}
	return f
}

// failed stores a submission that failed with category.
func (f *fixture) failed(t *testing.T, form, category string) {
	t.Helper()
	r := &submission.Record{Form: form, Fields: map[string]string{"email": "ann.lee@example.com", "last_name": "Lee"},
		LastError: &submission.ErrorInfo{Category: category, Status: 400, Message: "The length of 'jobtitle' exceeded: Ann Lee, Chief Everything"}}
	if _, err := f.store.Create(context.Background(), r); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) check(t *testing.T) bool {
	t.Helper()
	sent, err := f.a.Check(context.Background())
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	return sent
}

func TestOneAlertPerPeriodSummarizingWhatFailed(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{Every: time.Hour, PublicURL: "https://leads.example.com/"})
	f.failed(t, "pricing", submission.CategoryInvalidData)
	f.failed(t, "pricing", submission.CategoryInvalidData)
	f.failed(t, "demo", submission.CategoryConfiguration)
	if !f.check(t) {
		t.Fatal("no alert after three failures")
	}
	got := f.hook.summaries()
	if len(got) != 1 {
		t.Fatalf("webhook got %d alerts, want 1", len(got))
	}
	s := got[0]
	want := []Group{{"form:pricing", "invalid_data", 2}, {"form:demo", "configuration", 1}}
	if s.Failed != 3 || len(s.Groups) != 2 || s.Groups[0] != want[0] || s.Groups[1] != want[1] {
		t.Errorf("summary: %d failed, groups %v; want 3, %v", s.Failed, s.Groups, want)
	}
	if !strings.HasPrefix(s.ConsoleURL, "https://leads.example.com/admin/failed?from=") || !strings.Contains(s.Text, "3 submissions failed") {
		t.Errorf("summary: console %q, text %q", s.ConsoleURL, s.Text)
	}
	for _, personal := range []string{"ann", "Lee", "Chief", "jobtitle"} {
		if strings.Contains(f.hook.raw[0], personal) {
			t.Errorf("the alert carries %q: %s", personal, f.hook.raw[0])
		}
	}

	// More failures in the same period: no second alert, from this or
	// another worker.
	f.failed(t, "pricing", submission.CategoryInvalidData)
	other := New(f.a.rdb, f.store, f.a.cfg, f.a.log)
	if f.check(t) || func() bool { sent, _ := other.Check(context.Background()); return sent }() {
		t.Error("a second alert in the same period")
	}
	// The next period tells of that one only.
	f.a.rdb.Del(context.Background(), keyLock) // as its expiry would
	if !f.check(t) {
		t.Fatal("no alert in the next period")
	}
	if got := f.hook.summaries(); len(got) != 2 || got[1].Failed != 1 {
		t.Errorf("second alert: %+v, want one failure", got[len(got)-1])
	}
	if f.check(t) {
		t.Error("an alert with nothing new")
	}
}

func TestLockExpiresWithThePeriod(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{Every: time.Second})
	f.failed(t, "demo", submission.CategoryInvalidData)
	if !f.check(t) {
		t.Fatal("no first alert")
	}
	f.failed(t, "demo", submission.CategoryInvalidData)
	testenv.Eventually(t, 10*time.Second, func() string {
		if !f.check(t) {
			return "no alert after the period ended"
		}
		return ""
	})
}

func TestFailedSendIsRetriedNextPeriodWithEverything(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{Every: time.Hour})
	f.hook.fail = true
	f.failed(t, "demo", submission.CategoryInvalidData)
	_, err := f.a.Check(context.Background())
	if err == nil || strings.Contains(err.Error(), "secret-token") {
		t.Fatalf("Check with the receiver failing: %v; want an error naming the host only", err)
	}
	f.hook.fail = false
	f.failed(t, "demo", submission.CategoryInvalidData)
	if f.check(t) {
		t.Error("retried within the period")
	}
	f.a.rdb.Del(context.Background(), keyLock)
	if !f.check(t) {
		t.Fatal("not retried in the next period")
	}
	if got := f.hook.summaries(); len(got) != 1 || got[0].Failed != 2 {
		t.Errorf("alerts: %+v, want one of 2 failures", got)
	}
}

// mailbox is a local SMTP server (go-smtp) with STARTTLS and AUTH PLAIN.
type mailbox struct {
	mu    sync.Mutex
	mails []mail
}

type mail struct {
	from, user string
	to         []string
	data       string
	tls        bool
}

type session struct {
	box  *mailbox
	conn *smtp.Conn
	m    mail
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "alerts" || pass != "s3cret" {
			return errors.New("bad credentials")
		}
		s.m.user = user
		return nil
	}), nil
}
func (s *session) Mail(from string, _ *smtp.MailOptions) error { s.m.from = from; return nil }
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error   { s.m.to = append(s.m.to, to); return nil }
func (s *session) Data(r io.Reader) error {
	b, _ := io.ReadAll(r)
	s.m.data = string(b)
	_, s.m.tls = s.conn.TLSConnectionState()
	s.box.mu.Lock()
	s.box.mails = append(s.box.mails, s.m)
	s.box.mu.Unlock()
	return nil
}
func (s *session) Reset()        {}
func (s *session) Logout() error { return nil }

func startMailbox(t *testing.T) (*mailbox, string, *x509.CertPool) {
	t.Helper()
	cert, pool := selfSigned(t)
	box := &mailbox{}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &session{box: box, conn: c}, nil }))
	srv.Domain = "localhost"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return box, ln.Addr().String(), pool
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func TestMailOverSTARTTLSWithAuth(t *testing.T) {
	t.Parallel()
	box, addr, pool := startMailbox(t)
	f := newFixture(t, Config{Every: time.Hour, RootCAs: pool, SMTP: SMTP{
		Addr: addr, Username: "alerts", Password: "s3cret", From: "leadbridge@example.com", To: []string{"ops@example.com", "crm@example.com"},
	}})
	f.failed(t, "pricing", submission.CategoryInvalidData)
	if !f.check(t) {
		t.Fatal("no alert")
	}
	if len(box.mails) != 1 {
		t.Fatalf("mails: %d, want 1", len(box.mails))
	}
	m := box.mails[0]
	if !m.tls || m.user != "alerts" || m.from != "leadbridge@example.com" || len(m.to) != 2 {
		t.Errorf("mail: tls %v, user %q, from %q, to %v", m.tls, m.user, m.from, m.to)
	}
	for _, want := range []string{"Subject: leadbridge: 1 failed submission(s)", "form:pricing, invalid_data: 1"} {
		if !strings.Contains(m.data, want) {
			t.Errorf("mail does not say %q:\n%s", want, m.data)
		}
	}
	if strings.Contains(m.data, "ann") || strings.Contains(m.data, "Lee") {
		t.Errorf("the mail carries personal data:\n%s", m.data)
	}
	if len(f.hook.summaries()) != 0 {
		t.Error("a webhook was posted with none configured")
	}
}

func TestNoCredentialsInClear(t *testing.T) {
	t.Parallel()
	box := &mailbox{}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &session{box: box, conn: c}, nil }))
	srv.Domain, srv.AllowInsecureAuth = "localhost", true // no TLS offered
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	f := newFixture(t, Config{SMTP: SMTP{Addr: ln.Addr().String(), Username: "alerts", Password: "s3cret", From: "a@example.com", To: []string{"b@example.com"}}})
	f.failed(t, "demo", submission.CategoryInvalidData)
	if _, err := f.a.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "not sent in clear") {
		t.Errorf("Check against a server without STARTTLS: %v, want a refusal to send credentials", err)
	}
	if len(box.mails) != 0 {
		t.Error("a mail was sent")
	}
}
