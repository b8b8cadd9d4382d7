package e2e

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/hibiken/asynq"

	"github.com/leadbridge/leadbridge/emulator"
	"github.com/leadbridge/leadbridge/internal/testenv"
	"github.com/leadbridge/leadbridge/queue"
	"github.com/leadbridge/leadbridge/submission"
)

const (
	consoleUser = "marketing-ops"
	consolePass = "pricing form lead went missing"
)

// pricingForm lets a job title of 100 characters through, as the standard
// lead column allows; the emulated org has shortened that column to 20
// (max_lengths below), so a longer title is Dataverse's 400.
const pricingForm = `
forms:
  pricing:
    title: Pricing enquiry
    allowed_origins: ["*"]
    contact: none
    spam: {rate_limit: off}
    fields:
      email:      {column: emailaddress1, rules: "required,email"}
      first_name: {column: firstname}
      last_name:  {column: lastname, rules: required}
      company:    {column: companyname}
      job_title:  {column: jobtitle, rules: "max=100"}
`

// alerts is a local webhook receiver, standing for Slack or Teams.
type alerts struct {
	mu  sync.Mutex
	got []map[string]any
}

func (a *alerts) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var m map[string]any
	_ = json.NewDecoder(r.Body).Decode(&m)
	a.mu.Lock()
	a.got = append(a.got, m)
	a.mu.Unlock()
}

func (a *alerts) all() []map[string]any {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.got)
}

// adminTab is one Chromium tab (its own browser context: its own cookies).
type adminTab struct {
	t    *testing.T
	ctx  context.Context
	base string
}

// startChromium starts headless Chromium (Debian's, with the project's
// flags) trusting the emulator's TLS certificate by its key, as the Entra
// ID sign-in runs on the emulator.
func startChromium(t *testing.T, emu *testenv.Emulator) context.Context {
	t.Helper()
	u, _ := url.Parse(emu.URL())
	conn, err := tls.Dial("tcp", u.Host, &tls.Config{RootCAs: emu.CertPool()})
	if err != nil {
		t.Fatal(err)
	}
	spki := sha256.Sum256(conn.ConnectionState().PeerCertificates[0].RawSubjectPublicKeyInfo)
	conn.Close()
	return testenv.Chromium(t, 4*time.Minute,
		chromedp.Flag("ignore-certificate-errors-spki-list", base64.StdEncoding.EncodeToString(spki[:])))
}

func newTab(t *testing.T, browser context.Context, base string) *adminTab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	b := &adminTab{t: t, ctx: ctx, base: base}
	b.do(chromedp.EmulateViewport(1280, 900))
	return b
}

func (b *adminTab) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("chromium: %v", err)
	}
}

func get[T any](b *adminTab, a chromedp.Action[T]) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, a)
	if err != nil {
		b.t.Fatalf("chromium: %v", err)
	}
	return v
}

// open loads a path and returns the status of the page it ends on.
func (b *adminTab) open(path string) int64 {
	b.t.Helper()
	resp, err := chromedp.Run(b.ctx, chromedp.NavigateResponse(b.base+path))
	if err != nil {
		b.t.Fatalf("open %s: %v", path, err)
	}
	return resp.Status
}

// click clicks a button that submits a form and waits for the page after.
func (b *adminTab) click(sel string) int64 {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("click %s: %v", sel, err)
	}
	return resp.Status
}

func (b *adminTab) text(sel string) string {
	b.t.Helper()
	return get(b, chromedp.Text(chromedp.CSS(sel)))
}

func (b *adminTab) path() string {
	b.t.Helper()
	u, _ := url.Parse(get(b, chromedp.Location()))
	return u.RequestURI()
}

func (b *adminTab) fill(sel, text string) {
	b.t.Helper()
	b.do(chromedp.Clear(chromedp.CSS(sel)), chromedp.SendKeys(chromedp.CSS(sel), text))
}

// screenshot keeps a picture of the page in the directory named by
// LEADBRIDGE_SCREENSHOTS (relative to the repository), when it is set:
// `LEADBRIDGE_SCREENSHOTS=docs go test ./e2e -run TestAdminConsoleInChromium`.
func (b *adminTab) screenshot(name string) {
	b.t.Helper()
	dir := os.Getenv("LEADBRIDGE_SCREENSHOTS")
	if dir == "" {
		return
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join("..", dir)
	}
	png := get(b, chromedp.FullScreenshot(100)) // 100: PNG; less is JPEG
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// checkPage asserts what every console page owes a person: each control
// labelled, no sideways scrolling on a phone's width, times converted.
func (b *adminTab) checkPage() {
	b.t.Helper()
	got := get(b, chromedp.Evaluate[struct {
		Unlabelled []string `json:"unlabelled"`
		Overflow   bool     `json:"overflow"`
	}](`(() => {
		const cs = [...document.querySelectorAll('input:not([type=hidden]), textarea, select')];
		const bad = cs.filter(c => !c.labels || ![...c.labels].some(l => l.textContent.trim() !== ''));
		return {unlabelled: bad.map(c => c.name || c.id), overflow: document.documentElement.scrollWidth > window.innerWidth + 1};
	})()`))
	if len(got.Unlabelled) > 0 {
		b.t.Errorf("%s: controls without a label: %v", b.path(), got.Unlabelled)
	}
	if got.Overflow {
		b.t.Errorf("%s: the page is wider than the window", b.path())
	}
}

// TestAdminConsoleInChromium is issue 10's acceptance, in one running
// leadbridge (api, worker, Redis, the emulator) and one Chromium.
func TestAdminConsoleInChromium(t *testing.T) {
	hook := &alerts{}
	receiver := httptest.NewServer(hook)
	t.Cleanup(receiver.Close)
	s := startStack(t, options{
		config:   pricingForm,
		emulator: `{"max_lengths":{"leads":{"jobtitle":20}}}`,
		env: map[string]string{
			"LEADBRIDGE_ADMIN_USER": consoleUser, "LEADBRIDGE_ADMIN_PASSWORD": consolePass,
			"LEADBRIDGE_ADMIN_OIDC_CLIENT_ID": emulator.DefaultClientID, "LEADBRIDGE_ADMIN_OIDC_CLIENT_SECRET": emulator.DefaultClientSecret,
			"LEADBRIDGE_ADMIN_OIDC_ALLOWED": "ann@contoso.com",
			"LEADBRIDGE_ALERT_WEBHOOK_URL":  receiver.URL + "/services/T000/B000/alert-token",
			"LEADBRIDGE_ALERT_EVERY":        "1h",
			"LEADBRIDGE_RETRY_HORIZON":      "1m",
		},
	})
	browser := startChromium(t, s.Emu)
	b := newTab(t, browser, s.APIURL)
	store := submission.NewStore(s.Redis.Client(), time.Hour)

	t.Run("every page sends a visitor without a session to sign-in", func(t *testing.T) {
		b.t = t
		if st := b.open("/admin/failed?status=spam"); st != 200 || !strings.HasPrefix(b.path(), "/admin/login?next=") {
			t.Fatalf("GET /admin/failed without a session: %d at %s, want the sign-in page", st, b.path())
		}
		b.checkPage()
		b.fill("#user", consoleUser)
		b.fill("#password", consolePass)
		if st := b.click("form[action='/admin/login'] button"); st != 200 || b.path() != "/admin/failed?status=spam" {
			t.Fatalf("sign-in: %d at %s, want back to the spam list", st, b.path())
		}
	})

	var failedID string
	t.Run("a submission Dataverse refused is listed with its message", func(t *testing.T) {
		b.t = t
		code, body := s.postJSON("pricing", map[string]any{"email": "ann@example.com", "first_name": "Ann", "last_name": "Lee",
			"company": "Contoso", "job_title": "Vice President, Global Revenue Operations"})
		if code != http.StatusAccepted {
			t.Fatalf("post: %d %v", code, body)
		}
		failedID = body["id"].(string)
		s.waitStatus(failedID, "failed", time.Minute)
		b.open("/admin/failed")
		b.checkPage()
		row := b.text("table.rows tbody tr")
		for _, want := range []string{"Ann Lee", "ann@example.com", "Pricing enquiry", "Invalid data", "400", "maximum allowed length of '20'"} {
			if !strings.Contains(row, want) {
				t.Errorf("the failed list's row %q does not show %q", row, want)
			}
		}
		if local := get(b, chromedp.AttributeValue(chromedp.CSS("table.rows time"), "data-local")); local.Value != "1" {
			t.Error("the row's time is not converted to the viewer's time zone")
		}
		b.screenshot("admin-failed.png")
	})

	t.Run("an alert tells of the failure", func(t *testing.T) {
		testenv.Eventually(t, 30*time.Second, func() string {
			if len(hook.all()) == 0 {
				return "no alert at the local webhook receiver"
			}
			return ""
		})
		a := hook.all()[0]
		if a["failed"] != float64(1) || !strings.Contains(fmt.Sprint(a["groups"]), "form:pricing") || strings.Contains(fmt.Sprint(a), "ann@example.com") {
			t.Errorf("alert: %v", a)
		}
	})

	t.Run("open it, correct the field, retry: delivered", func(t *testing.T) {
		b.t = t
		b.click("table.rows a.open")
		if b.path() != "/admin/submissions/"+failedID {
			t.Fatalf("Open went to %s", b.path())
		}
		b.checkPage()
		if msg := b.text("#error-message"); !strings.Contains(msg, "'jobtitle' attribute of the 'lead' entity exceeded the maximum allowed length of '20'") {
			t.Errorf("detail's message: %q", msg)
		}
		if col := b.text("label[for=e-job_title] .col"); !strings.Contains(col, "jobtitle") {
			t.Errorf("the job title field does not say its column: %q", col)
		}
		b.screenshot("admin-detail.png")
		b.fill("#e-job_title", "VP Revenue Ops")
		if st := b.click("#save-retry"); st != 200 {
			t.Fatalf("Save and retry: %d", st)
		}
		if done := b.text("#done"); !strings.Contains(done, "queued for delivery") {
			t.Errorf("after Save and retry: %q", done)
		}
		s.waitStatus(failedID, "delivered", time.Minute)
		leads := s.leadsByEmail("ann@example.com")
		if len(leads) != 1 || leads[0]["jobtitle"] != "VP Revenue Ops" || leads[0]["lastname"] != "Lee" {
			t.Fatalf("leads in the emulator: %v", leads)
		}
		b.open("/admin/submissions/" + failedID)
		if st := b.text("#status"); st != "delivered" {
			t.Errorf("status shown: %q", st)
		}
		page := b.text("main")
		for _, want := range []string{consoleUser, "Vice President, Global Revenue Operations", "VP Revenue Ops", "failed", "delivered"} {
			if !strings.Contains(page, want) {
				t.Errorf("the detail page does not show %q (the correction and the attempts)", want)
			}
		}
	})

	t.Run("bulk retry after an outage delivers all", func(t *testing.T) {
		b.t = t
		// Three submissions that were retried through an outage longer than
		// the retry horizon: received two minutes ago (a 1-minute horizon
		// stands for the days of a real one) and failed on their attempt.
		s.Emu.Configure(`{"faults":{"down":true}}`)
		q := queue.NewClient(s.Redis.Client())
		var ids []string
		for i := range 3 {
			r := &submission.Record{Form: "pricing", Source: "form", ReceivedAt: time.Now().Add(-2 * time.Minute),
				Fields: map[string]string{"email": fmt.Sprintf("outage%d@example.com", i), "last_name": "Outage"}}
			if _, err := store.Create(context.Background(), r); err != nil {
				t.Fatal(err)
			}
			if err := q.Enqueue(context.Background(), r); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, r.ID)
		}
		for _, id := range ids {
			rec := s.waitStatus(id, "failed", time.Minute)
			if le, _ := rec["last_error"].(map[string]any); le["category"] != "unavailable" {
				t.Fatalf("%s failed with %v, want unavailable", id, le)
			}
		}
		s.Emu.Configure(`{"faults":{"down":false}}`)
		b.open("/admin")
		if got := b.text("#failed-now"); got != "3 failed" {
			t.Errorf("the overview's failed count: %q, want 3 failed", got)
		}
		if got := b.text("#crm-state"); got != "Not answering" {
			t.Errorf("the overview's Dataverse state after the outage: %q, want Not answering (no call answered since)", got)
		}
		b.screenshot("admin-overview.png")
		b.open("/admin/failed?category=unavailable")
		if n := get(b, chromedp.Evaluate[int](`document.querySelectorAll("table.rows tbody tr").length`)); n != 3 {
			t.Fatalf("the list filtered on CRM unavailable shows %d rows, want 3", n)
		}
		b.click("#bulk-retry")
		if got := b.text("#bulk-result"); !strings.Contains(got, "Queued 3 for delivery again") {
			t.Errorf("after Retry all matching: %q", got)
		}
		for _, id := range ids {
			s.waitStatus(id, "delivered", time.Minute)
		}
		for i := range 3 {
			if n := len(s.leadsByEmail(fmt.Sprintf("outage%d@example.com", i))); n != 1 {
				t.Errorf("outage%d: %d leads, want 1", i, n)
			}
		}
	})

	t.Run("discard with a reason appears in the audit log", func(t *testing.T) {
		b.t = t
		_, body := s.postJSON("pricing", map[string]any{"email": "test@agency.example", "last_name": "Test",
			"job_title": "QA engineer at the web agency"})
		id := body["id"].(string)
		s.waitStatus(id, "failed", time.Minute)
		b.open("/admin/submissions/" + id)
		b.fill("#reason", "test entry by the web agency")
		b.click("#discard")
		if st := b.text("#status"); st != "discarded" {
			t.Fatalf("after Discard: %q", st)
		}
		b.open("/admin/audit")
		b.checkPage()
		first := b.text("table.rows tbody tr")
		for _, want := range []string{consoleUser, "discard", id, "test entry by the web agency"} {
			if !strings.Contains(first, want) {
				t.Errorf("the audit log's newest entry %q lacks %q", first, want)
			}
		}
	})

	t.Run("pause stops deliveries; resume delivers what waited", func(t *testing.T) {
		b.t = t
		b.open("/admin")
		b.click("form[action='/admin/delivery/pause'] button")
		if st := b.text("#delivery-state"); st != "Paused" {
			t.Fatalf("after Pause: %q", st)
		}
		_, body := s.postJSON("pricing", map[string]any{"email": "paused@example.com", "last_name": "Waits"})
		id := body["id"].(string)
		ins := asynq.NewInspectorFromRedisClient(s.Redis.Client())
		testenv.Eventually(t, 30*time.Second, func() string {
			info, err := ins.GetQueueInfo(queue.FormQueue("pricing"))
			if err != nil || !info.Paused || info.Pending+info.Retry+info.Scheduled == 0 {
				return fmt.Sprintf("queue: %+v, %v; want paused with the task waiting", info, err)
			}
			return ""
		})
		// Nothing is delivered while paused. Proving an absence takes a
		// look over time: ten of the worker's dequeue intervals (200 ms),
		// during which Dataverse hears nothing and the record stays as it
		// was received.
		before := s.Emu.Stats().RequestsTotal
		stays(t, 2*time.Second, func() string {
			if rec := s.submission(id); rec["status"] != "accepted" || rec["attempt_count"] != float64(0) {
				return fmt.Sprintf("while paused: %v after %v attempts, want accepted with none", rec["status"], rec["attempt_count"])
			}
			if n := s.Emu.Stats().RequestsTotal; n != before {
				return fmt.Sprintf("while paused Dataverse got %d requests", n-before)
			}
			return ""
		})
		if n := len(s.leadsByEmail("paused@example.com")); n != 0 {
			t.Fatalf("while paused: %d leads", n)
		}
		b.open("/admin")
		if w := b.text("#waiting"); w != "1" {
			t.Errorf("waiting while paused: %q, want 1", w)
		}
		b.click("form[action='/admin/delivery/resume'] button")
		s.waitStatus(id, "delivered", time.Minute)
		if n := len(s.leadsByEmail("paused@example.com")); n != 1 {
			t.Errorf("after resume: %d leads, want 1", n)
		}
	})

	t.Run("one alert per period", func(t *testing.T) {
		// Four more failed since the first alert (three in the outage, one
		// discarded); the worker looked for news every 5 s meanwhile, but
		// the period is an hour.
		if got := hook.all(); len(got) != 1 {
			t.Errorf("alerts: %d, want 1 in the period", len(got))
		}
	})

	t.Run("overview", func(t *testing.T) {
		b.t = t
		b.open("/admin")
		b.checkPage()
		if got := b.text("#status-delivered"); !strings.Contains(got, "5") {
			t.Errorf("delivered in the last 24 hours: %q, want 5", got)
		}
		if got := b.text("#delivery-state"); got != "Running" {
			t.Errorf("delivery: %q", got)
		}
		if got := b.text("#crm-state"); got != "Connected" {
			t.Errorf("Dataverse: %q, want Connected", got)
		}
	})

	t.Run("on a phone", func(t *testing.T) {
		b.t = t
		b.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
		defer b.do(chromedp.EmulateViewport(1280, 900))
		for _, p := range []string{"/admin", "/admin/failed?status=all", "/admin/submissions/" + failedID, "/admin/audit"} {
			b.open(p)
			b.checkPage()
		}
		b.open("/admin/failed?status=all")
		b.screenshot("admin-phone.png")
	})

	t.Run("sign in with Entra ID", func(t *testing.T) {
		e := newTab(t, browser, s.APIURL)
		e.open("/admin/audit")
		e.click("a[href^='/admin/oidc/start']")
		if !strings.Contains(get(e, chromedp.Location()), s.Emu.URL()+"/"+emulator.DefaultTenantID+"/oauth2/v2.0/authorize") {
			t.Fatalf("Sign in with Entra ID went to %s", get(e, chromedp.Location()))
		}
		e.fill("#username", "someone@contoso.com")
		e.click("button[name=signin]")
		if p := e.path(); !strings.HasPrefix(p, "/admin/login") || !strings.Contains(e.text(".problem"), "not allowed") {
			t.Fatalf("a user not allowed: at %s", p)
		}
		e.click("a[href^='/admin/oidc/start']")
		e.fill("#username", "ann@contoso.com")
		e.fill("#name", "Ann Admin")
		e.click("button[name=signin]")
		if p := e.path(); p != "/admin/audit" {
			t.Fatalf("after Entra ID sign-in: at %s, want back at /admin/audit", p)
		}
		if who := e.text(".signout .who"); who != "Ann Admin" {
			t.Errorf("signed in as %q", who)
		}
		if first := e.text("table.rows tbody tr"); !strings.Contains(first, "sign-in") || !strings.Contains(first, "ann@contoso.com") {
			t.Errorf("the audit log's newest entry: %q", first)
		}
	})
}

// stays checks cond over the whole of d (polling), failing at the first
// time it does not hold: for what must not happen.
func stays(t *testing.T, d time.Duration, cond func() string) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if msg := cond(); msg != "" {
			t.Fatal(msg)
		}
	}
}
