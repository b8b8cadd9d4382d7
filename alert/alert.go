// Package alert tells people when submissions fail, so that nobody has to
// watch the console: a JSON summary posted to a webhook and/or an e-mail
// through SMTP, at most one per period across every worker (a lock in
// Redis), counting what failed since the last one per form or source and
// error category, with a link to the console. It carries no personal data:
// no names, addresses or field values, and not Dataverse's messages (which
// quote values); only counts, ids of forms and sources, and categories.
package alert

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/smtp"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/leadbridge/leadbridge/submission"
)

// Redis keys: the lock that makes "once per period" hold for the fleet,
// and the time of the newest failure already told about.
const (
	keyLock = "lb:alert:lock"
	keySeen = "lb:alert:seen" // Unix nanoseconds
)

// Config says where alerts go.
type Config struct {
	WebhookURL string        // POSTed a JSON Summary; "" = no webhook
	SMTP       SMTP          // Addr "" = no e-mail
	Every      time.Duration // at most one alert per period; default 15 minutes
	PublicURL  string        // the console's base URL for links; "" = no links
	Timeout    time.Duration // per webhook or SMTP exchange; default 10 s
	RootCAs    *x509.CertPool
}

// SMTP is the mail server and the message's envelope.
type SMTP struct {
	Addr     string // host:port
	Username string // AUTH PLAIN when set, only over TLS
	Password string
	From     string
	To       []string
}

// Enabled reports whether any alert is configured.
func (c Config) Enabled() bool { return c.WebhookURL != "" || c.SMTP.Addr != "" }

// Summary is the webhook's JSON body (its "text" makes Slack and Teams
// incoming webhooks show it as it is).
type Summary struct {
	Text       string    `json:"text"`
	Failed     int       `json:"failed"`
	More       bool      `json:"more,omitempty"` // more failed than were counted (Failed is a lower bound)
	Since      time.Time `json:"since"`
	Until      time.Time `json:"until"`
	Groups     []Group   `json:"groups"`
	ConsoleURL string    `json:"console_url,omitempty"`
}

// Group counts failures of one origin (form:<id> or hook:<source>) and
// error category.
type Group struct {
	Origin   string `json:"origin"`
	Category string `json:"category"`
	Count    int    `json:"count"`
}

// Alerter checks for new failures and sends alerts. Every worker runs one;
// the lock lets one of them send per period.
type Alerter struct {
	rdb   redis.UniversalClient
	store *submission.Store
	cfg   Config
	log   *slog.Logger
	http  *http.Client
	now   func() time.Time
	id    string
}

// New returns an Alerter.
func New(rdb redis.UniversalClient, store *submission.Store, cfg Config, log *slog.Logger) *Alerter {
	if cfg.Every <= 0 {
		cfg.Every = 15 * time.Minute
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return &Alerter{
		rdb: rdb, store: store, cfg: cfg, log: log, now: time.Now, id: hex.EncodeToString(b[:]),
		http: &http.Client{
			Timeout: cfg.Timeout + time.Second, // a backstop; each call has a context deadline
			Transport: &http.Transport{
				Proxy:           http.ProxyFromEnvironment,
				TLSClientConfig: &tls.Config{RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12},
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// Run checks every interval until ctx ends.
func (a *Alerter) Run(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := a.Check(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("alert not sent", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// maxRead bounds the failures one alert reads to count; more are reported
// in the total.
const maxRead = 2000

// Check sends an alert if submissions failed since the last one and no
// alert went out in the current period (from any worker). It reports
// whether it sent one. A failed send keeps the period's lock: the next
// attempt is one period later, with everything that failed until then.
func (a *Alerter) Check(ctx context.Context) (bool, error) {
	if !a.cfg.Enabled() {
		return false, nil
	}
	now := a.now().UTC()
	seen, err := a.seen(ctx, now)
	if err != nil {
		return false, err
	}
	q := submission.Query{Status: submission.StatusFailed, From: seen.Add(time.Microsecond), Limit: 1}
	first, err := a.store.Search(ctx, q)
	if err != nil {
		return false, fmt.Errorf("alert: %w", err)
	}
	if len(first.Records) == 0 {
		return false, nil
	}
	ok, err := a.rdb.SetNX(ctx, keyLock, a.id, a.cfg.Every).Result()
	if err != nil {
		return false, fmt.Errorf("alert: lock: %w", err)
	}
	if !ok {
		return false, nil // one was sent this period
	}
	s, newest, err := a.summarize(ctx, q)
	if err != nil {
		return false, err
	}
	s.Since = seen
	s.Until = now
	s.ConsoleURL = a.consoleURL(seen)
	s.Text = text(s)
	var errs []error
	if a.cfg.WebhookURL != "" {
		errs = append(errs, a.postWebhook(ctx, s))
	}
	if a.cfg.SMTP.Addr != "" {
		errs = append(errs, a.sendMail(ctx, s))
	}
	if err := errors.Join(errs...); err != nil {
		return false, err
	}
	if err := a.rdb.Set(ctx, keySeen, strconv.FormatInt(newest.UnixNano(), 10), 0).Err(); err != nil {
		return true, fmt.Errorf("alert: sent, but not recorded (the next alert repeats it): %w", err)
	}
	a.log.Info("alert sent", "failed", s.Failed, "groups", len(s.Groups))
	return true, nil
}

// seen is the time of the newest failure already told about. The first
// time (a new installation, or alerts just turned on) it is now: old
// failures are the console's to show, not news.
func (a *Alerter) seen(ctx context.Context, now time.Time) (time.Time, error) {
	v, err := a.rdb.Get(ctx, keySeen).Result()
	if errors.Is(err, redis.Nil) {
		if err := a.rdb.SetNX(ctx, keySeen, strconv.FormatInt(now.UnixNano(), 10), 0).Err(); err != nil {
			return time.Time{}, fmt.Errorf("alert: %w", err)
		}
		return a.seen(ctx, now)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("alert: %w", err)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return now, nil
	}
	return time.Unix(0, n).UTC(), nil
}

// summarize counts the failures q finds by origin and category.
func (a *Alerter) summarize(ctx context.Context, q submission.Query) (Summary, time.Time, error) {
	counts := map[Group]int{}
	var s Summary
	var newest time.Time
	q.Limit = submission.MaxLimit
	for read := 0; read < maxRead; {
		page, err := a.store.Search(ctx, q)
		if err != nil {
			return s, newest, fmt.Errorf("alert: %w", err)
		}
		for _, r := range page.Records {
			cat := "unknown"
			if r.LastError != nil {
				cat = r.LastError.Category
			}
			counts[Group{Origin: r.Origin(), Category: cat}]++
			if r.UpdatedAt.After(newest) {
				newest = r.UpdatedAt
			}
		}
		read += len(page.Records)
		s.Failed += len(page.Records)
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
		s.More = read >= maxRead
	}
	for g, n := range counts {
		g.Count = n
		s.Groups = append(s.Groups, g)
	}
	slices.SortFunc(s.Groups, func(x, y Group) int {
		if x.Count != y.Count {
			return y.Count - x.Count
		}
		return strings.Compare(x.Origin+x.Category, y.Origin+y.Category)
	})
	return s, newest, nil
}

func (a *Alerter) consoleURL(since time.Time) string {
	if a.cfg.PublicURL == "" {
		return ""
	}
	v := url.Values{"from": {since.UTC().Format(time.RFC3339)}}
	return strings.TrimRight(a.cfg.PublicURL, "/") + "/admin/failed?" + v.Encode()
}

// text is the alert in words, for chat and the mail's body.
func text(s Summary) string {
	var b strings.Builder
	noun := "submissions"
	if s.Failed == 1 {
		noun = "submission"
	}
	atLeast := ""
	if s.More {
		atLeast = "at least "
	}
	fmt.Fprintf(&b, "leadbridge: %s%d %s failed since %s and need a person.\n", atLeast, s.Failed, noun, s.Since.Format("2006-01-02 15:04 UTC"))
	for _, g := range s.Groups {
		fmt.Fprintf(&b, "- %s, %s: %d\n", g.Origin, g.Category, g.Count)
	}
	if s.ConsoleURL != "" {
		fmt.Fprintf(&b, "Open the failed list: %s\n", s.ConsoleURL)
	}
	return b.String()
}

func (a *Alerter) postWebhook(ctx context.Context, s Summary) error {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.Timeout)
	defer cancel()
	body, _ := json.Marshal(s)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.cfg.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("alert: webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "leadbridge-alert")
	resp, err := a.http.Do(req)
	if err != nil {
		// The URL may carry a secret token in its path or query: say the host only.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("alert: webhook to %s: %w", req.URL.Host, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("alert: webhook to %s answered %d", req.URL.Host, resp.StatusCode)
	}
	return nil
}

// sendMail delivers the alert through SMTP, with STARTTLS when the server
// offers it; credentials are only ever sent over TLS.
func (a *Alerter) sendMail(ctx context.Context, s Summary) error {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.Timeout)
	defer cancel()
	m := a.cfg.SMTP
	host, _, err := net.SplitHostPort(m.Addr)
	if err != nil {
		return fmt.Errorf("alert: smtp address: %w", err)
	}
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", m.Addr)
	if err != nil {
		return fmt.Errorf("alert: smtp: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl) // the whole exchange, not only the dial
	}
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return fmt.Errorf("alert: smtp: %w", err)
	}
	defer c.Close()
	if err := c.Hello("leadbridge"); err != nil {
		return fmt.Errorf("alert: smtp: %w", err)
	}
	tlsOn := false
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(&tls.Config{ServerName: host, RootCAs: a.cfg.RootCAs, MinVersion: tls.VersionTLS12}); err != nil {
			return fmt.Errorf("alert: smtp starttls: %w", err)
		}
		tlsOn = true
	}
	if m.Username != "" {
		if !tlsOn {
			return errors.New("alert: smtp: the server offers no STARTTLS; credentials are not sent in clear")
		}
		if err := c.Auth(smtp.PlainAuth("", m.Username, m.Password, host)); err != nil {
			return fmt.Errorf("alert: smtp auth: %w", err)
		}
	}
	if err := c.Mail(m.From); err != nil {
		return fmt.Errorf("alert: smtp: %w", err)
	}
	for _, to := range m.To {
		if err := c.Rcpt(to); err != nil {
			return fmt.Errorf("alert: smtp: %w", err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("alert: smtp: %w", err)
	}
	subject := fmt.Sprintf("leadbridge: %d failed submission(s)", s.Failed)
	fmt.Fprintf(w, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nAuto-Submitted: auto-generated\r\n\r\n",
		m.From, strings.Join(m.To, ", "), subject, s.Until.Format(time.RFC1123Z))
	_, _ = io.WriteString(w, strings.ReplaceAll(s.Text, "\n", "\r\n"))
	if err := w.Close(); err != nil {
		return fmt.Errorf("alert: smtp: %w", err)
	}
	return c.Quit()
}
