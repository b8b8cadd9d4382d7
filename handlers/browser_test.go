package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/leadbridge/leadbridge/internal/testenv"
	"github.com/leadbridge/leadbridge/submission"
)

// browserTimeout bounds one browser test: starting Chromium, every page and
// every wait. A test that needs longer has hung.
const browserTimeout = 20 * time.Second

// screenshotPath is where TestFormWithErrors leaves a picture of the page a
// person sees after a bad submission, for a human to look at.
const screenshotPath = "/tmp/leadbridge-form-errors.png"

// browser is one headless Chromium tab on the real router, served over HTTP.
type browser struct {
	t    *testing.T
	v    *env
	ctx  context.Context
	base string
}

// openBrowser starts the real server and a headless Chromium with a fresh
// profile. Chromium missing is a failure, never a skip: the hosted pages are
// only tested here.
func openBrowser(t *testing.T, js bool) *browser { return openBrowserWith(t, js, envOptions{}) }

func openBrowserWith(t *testing.T, js bool, o envOptions) *browser {
	t.Helper()
	v := newEnvWith(t, o)
	return openBrowserOn(t, js, v, v.e)
}

// openBrowserOn is openBrowser for env v served by h: the router, or a mux
// that adds pages of a site embedding a form.
func openBrowserOn(t *testing.T, js bool, v *env, h http.Handler) *browser {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	bctx := testenv.Chromium(t, browserTimeout)

	b := &browser{t: t, v: v, ctx: bctx, base: srv.URL}
	b.do(chromedp.EmulateViewport(800, 1000))
	if !js {
		b.do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
			return err
		}))
	}
	return b
}

func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("chromium: %v", err)
	}
}

// read runs one action that returns a value.
func read[T any](b *browser, a chromedp.Action[T]) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, a)
	if err != nil {
		b.t.Fatalf("chromium: %v", err)
	}
	return v
}

// open loads a page and returns its HTTP status.
func (b *browser) open(path string) int64 {
	b.t.Helper()
	resp, err := chromedp.Run(b.ctx, chromedp.NavigateResponse(b.base+path))
	if err != nil {
		b.t.Fatalf("open %s: %v", path, err)
	}
	return resp.Status
}

// typeInto types text into the field of that name, as a person would.
func (b *browser) typeInto(name, text string) {
	b.t.Helper()
	b.do(chromedp.SendKeys(chromedp.ID("f-"+name), text))
}

// retype replaces what the field holds.
func (b *browser) retype(name, text string) {
	b.t.Helper()
	b.do(chromedp.Clear(chromedp.ID("f-"+name)), chromedp.SendKeys(chromedp.ID("f-"+name), text))
}

// send clicks Send and waits for the page that comes back; it returns that
// page's HTTP status (after redirects).
func (b *browser) send() int64 {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Click(chromedp.CSS(`button[type=submit]`)))
	if err != nil {
		b.t.Fatalf("click Send: %v", err)
	}
	return resp.Status
}

func (b *browser) value(name string) string {
	b.t.Helper()
	return read(b, chromedp.Value(chromedp.ID("f-"+name)))
}

func (b *browser) attr(sel, name string) string {
	b.t.Helper()
	return read(b, chromedp.AttributeValue(chromedp.CSS(sel), name)).Value
}

func (b *browser) idempotencyKey() string {
	b.t.Helper()
	return b.attr(`input[name=_idempotency_key]`, "value")
}

// thanksID checks that the browser shows the thank-you page and returns the
// reference it shows.
func (b *browser) thanksID() string {
	b.t.Helper()
	loc, err := url.Parse(read(b, chromedp.Location()))
	if err != nil || loc.Path != "/f/demo/thanks" {
		b.t.Fatalf("after Send: got %s, want the thank-you page /f/demo/thanks", loc)
	}
	if h := read(b, chromedp.Text(chromedp.CSS("h1"))); h != "Thank you" {
		b.t.Errorf("thank-you heading: got %q, want %q", h, "Thank you")
	}
	id := strings.TrimSpace(read(b, chromedp.Text(chromedp.CSS(".lb-ref code"))))
	if id == "" || id != loc.Query().Get("id") {
		b.t.Fatalf("reference shown: got %q, want the id %q of the URL", id, loc.Query().Get("id"))
	}
	return id
}

// checkLabels asserts that every control a person fills in has a label with
// words in it, as assistive technology sees it (the control's labels list).
func (b *browser) checkLabels() {
	b.t.Helper()
	got := read(b, chromedp.Evaluate[struct {
		Controls   int      `json:"controls"`
		Unlabelled []string `json:"unlabelled"`
	}](`(() => {
		const cs = [...document.querySelectorAll('input:not([type=hidden]), textarea, select')];
		const bad = cs.filter(c => !c.labels || ![...c.labels].some(l => l.textContent.trim() !== ''));
		return {controls: cs.length, unlabelled: bad.map(c => c.name || c.id || c.outerHTML)};
	})()`))
	if got.Controls == 0 {
		b.t.Fatal("labels: the page has no form controls")
	}
	if len(got.Unlabelled) > 0 {
		b.t.Errorf("controls without a label: %v", got.Unlabelled)
	}
}

func TestBrowserPersonSendsTheForm(t *testing.T) {
	b := openBrowser(t, true)
	if st := b.open("/f/demo"); st != 200 {
		t.Fatalf("GET /f/demo: got %d, want 200", st)
	}
	b.typeInto("first_name", "Ann")
	b.typeInto("last_name", "Lee")
	b.typeInto("email", "Ann.Lee@Example.com")
	b.typeInto("company", "Contoso")
	b.do(chromedp.Click(chromedp.ID("f-consent")))
	if st := b.send(); st != 200 {
		t.Fatalf("Send: got %d, want 200 (the thank-you page after a 303)", st)
	}
	id := b.thanksID()

	rec, err := b.v.store.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("record %s: %v", id, err)
	}
	want := map[string]string{"first_name": "Ann", "last_name": "Lee", "email": "ann.lee@example.com", "company": "Contoso", "consent": "true"}
	for k, w := range want {
		if rec.Fields[k] != w {
			t.Errorf("stored %s: got %q, want %q", k, rec.Fields[k], w)
		}
	}
	if rec.Status != "accepted" || rec.Source != "form" || !strings.HasPrefix(rec.Page, b.base) {
		t.Errorf("record: got status %q source %q page %q, want accepted, form, %s", rec.Status, rec.Source, rec.Page, b.base)
	}
	if n := b.v.queued(t); n != 1 {
		t.Errorf("queued: got %d, want 1", n)
	}
}

// TestBrowserFormWithErrors is the page a person without JavaScript gets
// back (with JavaScript, embed.js shows the errors in place: e2e tests it).
func TestBrowserFormWithErrors(t *testing.T) {
	b := openBrowser(t, false)
	b.open("/f/demo")
	key := b.idempotencyKey()
	if key == "" {
		t.Fatal("the form has no idempotency key")
	}
	b.typeInto("first_name", "Ann")
	b.typeInto("email", "not-an-email")
	b.typeInto("company", "Contoso")
	b.do(chromedp.Click(chromedp.ID("f-consent")))
	if st := b.send(); st != 422 {
		t.Fatalf("Send with errors: got %d, want 422", st)
	}

	// The summary names both fields and links to them.
	summary := read(b, chromedp.Text(chromedp.CSS(`[role=alert]`)))
	for _, want := range []string{"Please check these 2 fields", "Last name is required", "Email must be a valid email address"} {
		if !strings.Contains(summary, want) {
			t.Errorf("error summary: got %q, want it to say %q", summary, want)
		}
	}
	var hrefs []string
	for _, a := range read(b, chromedp.AttributesAll(chromedp.CSSAll(`[role=alert] a`))) {
		hrefs = append(hrefs, a["href"])
	}
	slices.Sort(hrefs)
	if want := []string{"#f-email", "#f-last_name"}; !slices.Equal(hrefs, want) {
		t.Errorf("summary links: got %v, want %v", hrefs, want)
	}

	// What the person typed is still there; the bad fields say so.
	for name, want := range map[string]string{"first_name": "Ann", "last_name": "", "email": "not-an-email", "company": "Contoso"} {
		if got := b.value(name); got != want {
			t.Errorf("%s after the error page: got %q, want %q", name, got, want)
		}
	}
	if !read(b, chromedp.JavascriptAttribute[bool](chromedp.ID("f-consent"), "checked")) {
		t.Error("consent: got unticked after the error page, want still ticked")
	}
	for name, want := range map[string]string{"email": "true", "last_name": "true", "first_name": "", "company": ""} {
		if got := b.attr("#f-"+name, "aria-invalid"); got != want {
			t.Errorf("%s aria-invalid: got %q, want %q", name, got, want)
		}
	}
	// Sighted people see which fields are wrong, not only screen reader users.
	border := func(name string) string {
		return read(b, chromedp.Evaluate[string](`getComputedStyle(document.getElementById("f-`+name+`")).borderTopColor`))
	}
	if ok, bad := border("first_name"), border("email"); bad == ok {
		t.Errorf("border of the invalid email: got %s, the same as a valid field's; want it marked", bad)
	}
	for _, name := range []string{"email", "last_name"} {
		desc := b.attr("#f-"+name, "aria-describedby")
		if msg := read(b, chromedp.Text(chromedp.ID(desc))); msg == "" {
			t.Errorf("%s: aria-describedby %q points at no message", name, desc)
		}
	}
	b.checkLabels()
	if n := b.v.records(t); n != 0 {
		t.Errorf("records after the error page: got %d, want 0", n)
	}
	if got := b.idempotencyKey(); got != key {
		t.Errorf("idempotency key after the error page: got %q, want the page's %q", got, key)
	}

	png := read(b, chromedp.FullScreenshot(100))
	if err := os.WriteFile(screenshotPath, png, 0o644); err != nil {
		t.Fatal(err)
	}

	// Fixed and sent again: one submission, under the page's key.
	b.typeInto("last_name", "Lee")
	b.retype("email", "ann@example.com")
	if st := b.send(); st != 200 {
		t.Fatalf("Send after fixing: got %d, want 200", st)
	}
	id := b.thanksID()
	rec, err := b.v.store.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("record %s: %v", id, err)
	}
	if rec.IdempotencyKey != key || rec.Fields["last_name"] != "Lee" || rec.Fields["email"] != "ann@example.com" || rec.Fields["consent"] != "true" {
		t.Errorf("record: got key %q fields %v, want key %q and the fixed values", rec.IdempotencyKey, rec.Fields, key)
	}

	// Back, and Send once more: the same page is the same submission.
	b.do(chromedp.NavigateBack())
	if got := b.idempotencyKey(); got != key {
		t.Fatalf("idempotency key after Back: got %q, want %q", got, key)
	}
	if st := b.send(); st != 200 {
		t.Fatalf("Send again after Back: got %d, want 200", st)
	}
	if again := b.thanksID(); again != id {
		t.Errorf("reference after sending the page twice: got %q, want the first %q", again, id)
	}
	if n := b.v.records(t); n != 1 {
		t.Errorf("records: got %d, want 1", n)
	}
	if n := b.v.queued(t); n != 1 {
		t.Errorf("queued: got %d, want 1", n)
	}
}

// TestBrowserSendAgainAfterA503MakesOneSubmission: Redis stores the
// submission but answers after intake's deadline, so the person (without
// JavaScript, which would send again by itself) sees the form again with a
// 503 and presses Send again: one submission, theirs.
func TestBrowserSendAgainAfterA503MakesOneSubmission(t *testing.T) {
	b := openBrowserWith(t, false, envOptions{storeTimeout: time.Second})
	// Someone else's submission first: Redis then knows intake's script, so
	// what is sent while it hangs runs when it wakes up.
	if _, err := b.v.store.Create(context.Background(), &submission.Record{Form: "demo", Fields: map[string]string{"last_name": "Ng"}}); err != nil {
		t.Fatal(err)
	}
	b.open("/f/demo")
	key := b.idempotencyKey()
	b.typeInto("last_name", "Lee")
	b.typeInto("email", "ann@example.com")
	b.v.redis.Pause()
	st := b.send()
	b.v.redis.Resume()
	if st != 503 {
		t.Fatalf("Send with Redis hung: got %d, want 503", st)
	}
	if got := b.idempotencyKey(); got != key {
		t.Errorf("idempotency key after the 503: got %q, want the page's %q", got, key)
	}
	if got := read(b, chromedp.Text(chromedp.CSS(`[role=alert]`))); !strings.Contains(got, "Press Send again") {
		t.Errorf("notice: got %q, want it to say to press Send again", got)
	}
	testenv.Eventually(t, 10*time.Second, func() string { // Redis, resumed, stores what it was sent
		if n := b.v.records(t); n != 2 {
			return fmt.Sprintf("records: %d, want 2", n)
		}
		return ""
	})
	if st := b.send(); st != 200 {
		t.Fatalf("Send again: got %d, want 200", st)
	}
	id := b.thanksID()
	rec, err := b.v.store.Get(context.Background(), id)
	if err != nil || rec.IdempotencyKey != key || rec.Fields["last_name"] != "Lee" {
		t.Errorf("record %s: got %v, %v; want the one stored under the page's key", id, rec, err)
	}
	if n := b.v.records(t); n != 2 {
		t.Errorf("records: got %d, want 2 (the other person's and this one)", n)
	}
}

func TestBrowserFormWorksWithoutJavaScript(t *testing.T) {
	b := openBrowser(t, false)
	b.open("/f/demo")
	b.checkLabels()
	b.typeInto("last_name", "Lee")
	b.typeInto("email", "ann@example.com")
	if st := b.send(); st != 200 {
		t.Fatalf("Send without JavaScript: got %d, want 200", st)
	}
	id := b.thanksID()
	rec, err := b.v.store.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("record %s: %v", id, err)
	}
	if rec.Fields["last_name"] != "Lee" || rec.Fields["email"] != "ann@example.com" || rec.Fields["consent"] != "false" {
		t.Errorf("stored fields: got %v, want last_name Lee, email ann@example.com, consent false", rec.Fields)
	}
}
