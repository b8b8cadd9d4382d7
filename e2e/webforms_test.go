package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/leadbridge/leadbridge/internal/testenv"
)

// webStack is a running leadbridge (api, worker, emulator) behind a proxy
// that stands for the API's own origin, a marketing site on another origin
// that embeds its forms, and a site on a third origin that no form allows.
type webStack struct {
	*stack
	proxy   *apiProxy
	site    *httptest.Server // allowed
	evil    *httptest.Server // not allowed
	captcha *httptest.Server // the captcha service's siteverify
	browser context.Context
}

// webConfig is the forms of the website tests; %[1]s is the marketing
// site's origin.
const webConfig = `
forms:
  contact:
    title: {en: Talk to sales, de: Vertrieb kontaktieren}
    intro: {en: We answer within a day., de: Wir antworten innerhalb eines Tages.}
    thank_you: {en: Thanks! We will be in touch., de: Danke! Wir melden uns.}
    allowed_origins: [%[1]s]
    spam: {honeypot: website_url, rate_limit: off}
    consent:
      text: {en: Send me product news, de: Schickt mir Produktneuigkeiten}
      policy_url: %[1]s/privacy
      version: "2026-03"
      columns: [donotbulkemail, msdyn_gdproptout]
    fields:
      first_name: {label: {en: First name, de: Vorname}, column: firstname}
      last_name:  {label: {en: Last name, de: Nachname}, column: lastname, rules: required}
      email:      {label: {en: Email, de: E-Mail}, column: emailaddress1, rules: "required,email"}
      industry:
        type: select
        label: {en: Industry, de: Branche}
        column: industrycode
        rules: required
        options:
          - {label: {en: Consulting, de: Beratung}, value: 7}
          - {label: {en: Retail, de: Einzelhandel}, value: 25}
      utm_source:   {type: hidden, column: new_utmsource, param: utm_source}
      utm_medium:   {type: hidden, column: new_utmmedium, param: utm_medium}
      utm_campaign: {type: hidden, column: new_utmcampaign, param: utm_campaign}
  guarded:
    allowed_origins: ["*"]
    spam:
      honeypot: website_url
      rate_limit: off
      captcha: {provider: turnstile, site_key: 0x4AAAAAAAB, secret: env:TURNSTILE_SECRET}
    fields:
      email:     {column: emailaddress1, rules: required}
      last_name: {column: lastname, rules: required}
  timed:
    allowed_origins: ["*"]
    spam: {min_seconds: 2, rate_limit: off}
    fields:
      email:     {column: emailaddress1, rules: required}
      last_name: {column: lastname, rules: required}
  limited:
    allowed_origins: ["*"]
    spam: {rate_limit: 2/minute}
    fields:
      email:     {column: emailaddress1, rules: required}
      last_name: {column: lastname, rules: required}
  xss:
    allowed_origins: [%[1]s]
    spam: {rate_limit: off}
    title: "<img src=x onerror=window.pwned=1>"
    fields:
      email:
        label: "<img src=x onerror=window.pwned=2>Email"
        help: "\"><svg onload=window.pwned=3>"
        column: emailaddress1
      kind:
        type: radio
        column: new_utmcontent
        options: {"<script>window.pwned=4</script>": a, "<b>bold</b>": b}
`

// apiProxy stands between the browser and the API, as the API's public
// origin: it counts the posts it forwards and can lose the answer of the
// next ones (the request reaches leadbridge; its answer never reaches the
// browser), as a flaky network does.
type apiProxy struct {
	*httptest.Server
	drop  atomic.Int32 // answers of this many next posts are lost
	mu    sync.Mutex
	posts []string // "path key" of every forwarded post
	defs  []string // "origin status" of every definition asked
}

func newAPIProxy(t *testing.T, api string) *apiProxy {
	u, _ := url.Parse(api)
	rp := httputil.NewSingleHostReverseProxy(u)
	p := &apiProxy{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/f/"):
			p.mu.Lock()
			p.posts = append(p.posts, r.URL.Path+" "+r.Header.Get("Idempotency-Key"))
			p.mu.Unlock()
			if p.drop.Add(-1) >= 0 {
				rp.ServeHTTP(httptest.NewRecorder(), r) // leadbridge answers …
				conn, _, err := w.(http.Hijacker).Hijack()
				if err == nil {
					conn.Close() // … and the answer is lost
				}
				return
			}
			p.drop.Store(0)
		case strings.HasSuffix(r.URL.Path, "/definition"):
			rec := httptest.NewRecorder()
			rp.ServeHTTP(rec, r)
			p.mu.Lock()
			p.defs = append(p.defs, fmt.Sprint(r.Header.Get("Origin"), " ", rec.Code))
			p.mu.Unlock()
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			w.Write(rec.Body.Bytes())
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *apiProxy) postsOf(key string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, s := range p.posts {
		if strings.HasSuffix(s, " "+key) {
			n++
		}
	}
	return n
}

// sitePage is a marketing site's page. It styles labels, inputs and
// buttons its own way: none of it may reach the embedded form, and none
// of the form's styles may reach the page.
const sitePage = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Site</title>
<style>label{display:inline;color:rgb(1,2,3)} input{border:7px dashed rgb(255,0,0)} button{background:rgb(0,255,0)}</style></head>
<body><h1>Pricing</h1><label id="site-label">The site's own label</label>
<script src="%s/embed.js" data-form="%s" async></script>
<p id="after">After the form</p></body></html>`

func startWebStack(t *testing.T) *webStack {
	t.Helper()
	w := &webStack{}
	var apiBase atomic.Value
	site := func() http.Handler {
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			form := r.URL.Query().Get("form")
			if form == "" {
				form = "contact"
			}
			rw.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(rw, sitePage, apiBase.Load(), form)
		})
	}
	w.site = httptest.NewServer(site())
	t.Cleanup(w.site.Close)
	w.evil = httptest.NewServer(site())
	t.Cleanup(w.evil.Close)
	w.captcha = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		ok := r.PostForm.Get("response") == "good" && r.PostForm.Get("secret") == "e2e-turnstile-secret"
		fmt.Fprintf(rw, `{"success":%v,"error-codes":%s}`, ok, map[bool]string{true: "[]", false: `["invalid-input-response"]`}[ok])
	}))
	t.Cleanup(w.captcha.Close)
	w.stack = startStack(t, options{config: fmt.Sprintf(webConfig, w.site.URL), env: map[string]string{
		"LEADBRIDGE_FORM_TOKEN_KEYS":    "e2e-form-token-key-0123456789abcdef",
		"LEADBRIDGE_CAPTCHA_VERIFY_URL": w.captcha.URL,
		"TURNSTILE_SECRET":              "e2e-turnstile-secret",
	}})
	w.proxy = newAPIProxy(t, w.APIURL)
	apiBase.Store(w.proxy.URL)
	w.browser = testenv.Chromium(t, 3*time.Minute)
	return w
}

// tab is one browser tab.
type tab struct {
	t   *testing.T
	ctx context.Context
}

func (w *webStack) tab(t *testing.T, js bool, acceptLanguage string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(w.browser)
	t.Cleanup(cancel)
	b := &tab{t: t, ctx: ctx}
	b.do(chromedp.EmulateViewport(900, 1200))
	if !js {
		b.do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
			return err
		}))
	}
	if acceptLanguage != "" {
		b.do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			if _, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{}); err != nil {
				return err
			}
			_, err := cdp.Call(ctx, tg, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": acceptLanguage}})
			return err
		}))
	}
	return b
}

func (b *tab) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("chromium: %v", err)
	}
}

func eval[T any](b *tab, js string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](js))
	if err != nil {
		b.t.Fatalf("chromium: %s: %v", js, err)
	}
	return v
}

// wait waits until the expression is truthy, through page loads (an
// expression that throws, or a page going away, is not yet).
func (b *tab) wait(js string) {
	b.t.Helper()
	probe := `(() => { try { return !!(` + js + `); } catch (e) { return false; } })()`
	testenv.Eventually(b.t, 30*time.Second, func() string {
		if ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](probe)); err != nil || !ok {
			return fmt.Sprintf("waiting for %s (%v)", js, err)
		}
		return ""
	})
}

func (b *tab) open(u string) int64 {
	b.t.Helper()
	resp, err := chromedp.Run(b.ctx, chromedp.NavigateResponse(u))
	if err != nil {
		b.t.Fatalf("open %s: %v", u, err)
	}
	return resp.Status
}

// click clicks the element el (a JavaScript expression) with the mouse.
func (b *tab) click(el string, count int) {
	b.t.Helper()
	pt := eval[[]float64](b, `(() => { const e = `+el+`; e.scrollIntoView({block: "center"}); const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()`)
	for i := 0; i < count; i++ {
		b.do(chromedp.MouseClickXY(pt[0], pt[1]))
	}
}

// clickAndLoad clicks el and waits for the page the click loads; it
// returns that page's HTTP status (after redirects).
func (b *tab) clickAndLoad(el string) int64 {
	b.t.Helper()
	pt := eval[[]float64](b, `(() => { const e = `+el+`; e.scrollIntoView({block: "center"}); const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()`)
	resp, err := chromedp.RunResponse(b.ctx, chromedp.MouseClickXY(pt[0], pt[1]))
	if err != nil {
		b.t.Fatalf("click %s: %v", el, err)
	}
	return resp.Status
}

// typeInto focuses el and types text, key by key.
func (b *tab) typeInto(el, text string) {
	b.t.Helper()
	eval[bool](b, `(() => { const e = `+el+`; e.focus(); return true; })()`)
	b.do(chromedp.KeyEvent(text))
}

// retype selects what el holds and types text over it.
func (b *tab) retype(el, text string) {
	b.t.Helper()
	eval[bool](b, `(() => { const e = `+el+`; e.focus(); e.select(); return true; })()`)
	b.do(chromedp.KeyEvent(text))
}

// choose picks an option of a select.
func (b *tab) choose(el, value string) {
	b.t.Helper()
	eval[bool](b, `(() => { const e = `+el+`; e.focus(); e.value = `+jsString(value)+`; e.dispatchEvent(new Event("change", {bubbles: true})); return true; })()`)
}

func jsString(s string) string { b, _ := json.Marshal(s); return string(b) }

// shadow is the embedded form's shadow root on a site page.
const shadow = `document.querySelector(".leadbridge-form").shadowRoot`

func in(root, sel string) string { return root + `.querySelector(` + jsString(sel) + `)` }

// fillEmbedded fills the embedded contact form as a person would.
func (b *tab) fillEmbedded(first, last, email string) {
	b.t.Helper()
	b.wait(in(shadow, `input[name=email]`))
	b.typeInto(in(shadow, `input[name=first_name]`), first)
	b.typeInto(in(shadow, `input[name=last_name]`), last)
	b.typeInto(in(shadow, `input[name=email]`), email)
	b.choose(in(shadow, `select[name=industry]`), "25")
	b.click(in(shadow, `input[name=consent]`), 1)
}

// submissionOf finds the submission of form with that email, through the
// status API.
func (s *stack) submissionOf(form, email string) map[string]any {
	s.t.Helper()
	// Statuses are listed one after another while a worker moves the
	// record on: it may be seen twice, and is counted once, by id.
	var found []map[string]any
	seen := map[any]bool{}
	for _, st := range []string{"accepted", "delivering", "retrying", "delivered", "failed", "spam"} {
		for _, r := range s.list(st) {
			if f, _ := r["fields"].(map[string]any); r["form"] == form && f["email"] == email && !seen[r["id"]] {
				seen[r["id"]] = true
				found = append(found, r)
			}
		}
	}
	if len(found) != 1 {
		s.t.Fatalf("submissions of %s by %s: %d, want 1", form, email, len(found))
	}
	return found[0]
}

// leadOf reads the lead with that email back, with the web columns.
func (s *stack) leadOf(email string) []map[string]any {
	q := "$select=leadid,firstname,lastname,emailaddress1,industrycode,new_utmsource,new_utmmedium,new_utmcampaign,new_utmcontent,donotbulkemail,msdyn_gdproptout&$filter=" +
		url.QueryEscape("emailaddress1 eq '"+strings.ReplaceAll(email, "'", "''")+"'")
	return s.Emu.Rows("leads", strings.ReplaceAll(q, "+", "%20"))
}

func TestWebForms(t *testing.T) {
	w := startWebStack(t)

	t.Run("embedded on another site, with an error corrected", func(t *testing.T) {
		b := w.tab(t, true, "")
		b.open(w.site.URL + "/pricing?utm_source=newsletter&utm_medium=email&utm_campaign=spring-launch")
		b.wait(in(shadow, `input[name=email]`))
		if got := eval[string](b, in(shadow, "h2")+`.textContent`); got != "Talk to sales" {
			t.Errorf("title: %q", got)
		}
		// The site's styles stay out of the form, and the form's out of the site.
		if got := eval[string](b, `getComputedStyle(`+in(shadow, `input[name=email]`)+`).borderTopStyle`); got == "dashed" {
			t.Error("the site's input style reached the embedded form")
		}
		if got := eval[string](b, `getComputedStyle(document.getElementById("site-label")).display`); got != "inline" {
			t.Errorf("the form's label style reached the site: display %q", got)
		}
		b.fillEmbedded("Ann", "Lee", "ann@example")
		b.click(in(shadow, `button[type=submit]`), 1)
		email := in(shadow, `input[name=email]`)
		b.wait(email + `.getAttribute("aria-invalid") === "true"`)
		desc := eval[string](b, email+`.getAttribute("aria-describedby")`)
		msg := eval[string](b, shadow+`.getElementById(`+jsString(strings.Fields(desc)[0])+`).textContent`)
		if msg != "Email must be a valid email address" {
			t.Errorf("inline error: %q", msg)
		}
		if got := eval[string](b, shadow+`.activeElement && `+shadow+`.activeElement.name`); got != "email" {
			t.Errorf("focus after the error: on %q, want the email field", got)
		}
		if got := eval[string](b, in(shadow, `[role=alert]`)+`.textContent`); !strings.Contains(got, "Please check this field") || !strings.Contains(got, "Email") {
			t.Errorf("error summary: %q", got)
		}
		b.retype(email, "ann.lee@example.com")
		b.click(in(shadow, `button[type=submit]`), 1)
		b.wait(in(shadow, `.lb-thanks`))
		if got := eval[string](b, in(shadow, `.lb-thanks`)+`.textContent`); !strings.Contains(got, "Thanks! We will be in touch.") {
			t.Errorf("thank-you: %q", got)
		}

		rec := w.submissionOf("contact", "ann.lee@example.com")
		rec = w.waitStatus(rec["id"].(string), "delivered", time.Minute)
		attr, _ := rec["attribution"].(map[string]any)
		if attr["utm_source"] != "newsletter" || attr["utm_campaign"] != "spring-launch" || !strings.HasPrefix(fmt.Sprint(rec["page"]), w.site.URL+"/pricing?") {
			t.Errorf("record attribution %v page %v", attr, rec["page"])
		}
		if c, _ := rec["consent"].(map[string]any); c["given"] != true || c["version"] != "2026-03" || c["text"] != "Send me product news" {
			t.Errorf("record consent: %v", c)
		}
		leads := w.leadOf("ann.lee@example.com")
		if len(leads) != 1 {
			t.Fatalf("leads: %d, want 1", len(leads))
		}
		l := leads[0]
		want := map[string]any{"firstname": "Ann", "lastname": "Lee", "industrycode": float64(25), "new_utmsource": "newsletter",
			"new_utmmedium": "email", "new_utmcampaign": "spring-launch", "donotbulkemail": false, "msdyn_gdproptout": false}
		for k, v := range want {
			if l[k] != v {
				t.Errorf("lead %s: %#v, want %#v", k, l[k], v)
			}
		}
	})

	t.Run("a double click makes one lead", func(t *testing.T) {
		b := w.tab(t, true, "")
		b.open(w.site.URL + "/pricing")
		b.fillEmbedded("Bo", "Berg", "bo@example.com")
		b.click(in(shadow, `button[type=submit]`), 2)
		b.wait(in(shadow, `.lb-thanks`))
		rec := w.submissionOf("contact", "bo@example.com")
		w.waitStatus(rec["id"].(string), "delivered", time.Minute)
		if n := w.proxy.postsOf(rec["idempotency_key"].(string)); n != 1 {
			t.Errorf("posts: %d, want 1 (the second click finds the button disabled)", n)
		}
		if n := len(w.leadOf("bo@example.com")); n != 1 {
			t.Errorf("leads: %d, want 1", n)
		}
	})

	t.Run("a request whose answer is lost is sent again and makes one lead", func(t *testing.T) {
		b := w.tab(t, true, "")
		b.open(w.site.URL + "/pricing")
		b.fillEmbedded("Cy", "Chan", "cy@example.com")
		w.proxy.drop.Store(1)
		b.click(in(shadow, `button[type=submit]`), 1)
		b.wait(in(shadow, `.lb-thanks`))
		rec := w.submissionOf("contact", "cy@example.com")
		w.waitStatus(rec["id"].(string), "delivered", time.Minute)
		if n := w.proxy.postsOf(rec["idempotency_key"].(string)); n < 2 {
			t.Errorf("posts with the submission's key: %d, want the lost one and its retry", n)
		}
		if n := len(w.leadOf("cy@example.com")); n != 1 {
			t.Errorf("leads: %d, want 1", n)
		}
	})

	t.Run("a site the form does not allow gets no form", func(t *testing.T) {
		b := w.tab(t, true, "")
		evil, _ := url.Parse(w.evil.URL)
		origin := "http://" + evil.Host
		b.open(w.evil.URL + "/pricing")
		testenv.Eventually(t, 30*time.Second, func() string {
			w.proxy.mu.Lock()
			defer w.proxy.mu.Unlock()
			for _, d := range w.proxy.defs {
				if d == origin+" 403" {
					return ""
				}
			}
			return fmt.Sprintf("definitions asked: %v, want one refused for %s", w.proxy.defs, origin)
		})
		if eval[bool](b, `!!(document.querySelector(".leadbridge-form") && document.querySelector(".leadbridge-form").shadowRoot)`) {
			t.Error("a form was rendered on a site the form does not allow")
		}
		req, _ := http.NewRequest(http.MethodPost, w.APIURL+"/f/contact", strings.NewReader(`{"email":"x@example.com","last_name":"X","industry":"7"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", origin)
		if code, _ := w.do(req); code != http.StatusForbidden {
			t.Errorf("post from that site: %d, want 403", code)
		}
	})

	t.Run("hosted page with JavaScript, in English", func(t *testing.T) {
		b := w.tab(t, true, "en-GB,en;q=0.9")
		b.open(w.APIURL + "/f/contact?utm_source=ads&utm_campaign=fall")
		b.wait(`document.querySelector("form[data-lb-done] .lb-status")`) // embed.js took the form over
		b.typeInto(`document.getElementById("f-last_name")`, "Diaz")
		b.typeInto(`document.getElementById("f-email")`, "dee@")
		b.choose(`document.getElementById("f-industry")`, "7")
		b.click(`document.querySelector("button[type=submit]")`, 1)
		b.wait(`document.getElementById("f-email").getAttribute("aria-invalid") === "true"`)
		if got := eval[string](b, `document.activeElement.id`); got != "f-email" {
			t.Errorf("focus after the error: %q", got)
		}
		if got := eval[string](b, `location.pathname`); got != "/f/contact" {
			t.Errorf("the page was left: %s", got)
		}
		b.retype(`document.getElementById("f-email")`, "dee@example.com")
		b.click(`document.querySelector("button[type=submit]")`, 1)
		b.wait(`location.pathname === "/f/contact/thanks" && document.querySelector("h1")`)
		if got := eval[string](b, `document.querySelector("h1").textContent`); got != "Thank you" {
			t.Errorf("thank-you page: %q", got)
		}
		rec := w.submissionOf("contact", "dee@example.com")
		w.waitStatus(rec["id"].(string), "delivered", time.Minute)
		l := w.leadOf("dee@example.com")
		if len(l) != 1 || l[0]["industrycode"] != float64(7) || l[0]["new_utmsource"] != "ads" || l[0]["new_utmcampaign"] != "fall" || l[0]["donotbulkemail"] != true {
			t.Errorf("lead: %v", l)
		}
	})

	t.Run("hosted page without JavaScript, in German", func(t *testing.T) {
		b := w.tab(t, false, "de-DE,de;q=0.9")
		b.open(w.APIURL + "/f/contact?utm_source=print")
		if got := eval[string](b, `document.documentElement.lang + "|" + document.querySelector("h1").textContent`); got != "de|Vertrieb kontaktieren" {
			t.Errorf("page: %q", got)
		}
		b.typeInto(`document.getElementById("f-last_name")`, "Eder")
		b.typeInto(`document.getElementById("f-email")`, "eva@")
		if st := b.clickAndLoad(`document.querySelector("button[type=submit]")`); st != http.StatusUnprocessableEntity {
			t.Fatalf("Senden with errors: %d, want 422", st)
		}
		summary := eval[string](b, `document.querySelector("[role=alert]").textContent`)
		for _, want := range []string{"Bitte prüfen Sie diese 2 Felder", "E-Mail muss eine gültige E-Mail-Adresse sein", "Branche ist ein Pflichtfeld"} {
			if !strings.Contains(summary, want) {
				t.Errorf("summary %q lacks %q", summary, want)
			}
		}
		if got := eval[string](b, `document.getElementById("f-email").getAttribute("aria-invalid") + "|" + document.getElementById("f-last_name").value`); got != "true|Eder" {
			t.Errorf("email aria-invalid and the name kept: %q", got)
		}
		b.retype(`document.getElementById("f-email")`, "eva@example.com")
		b.choose(`document.getElementById("f-industry")`, "25")
		b.click(`document.getElementById("f-consent")`, 1)
		if st := b.clickAndLoad(`document.querySelector("button[type=submit]")`); st != http.StatusOK {
			t.Fatalf("Senden: %d, want the thank-you page", st)
		}
		if got := eval[string](b, `location.pathname + "|" + document.querySelector("h1").textContent + "|" + document.querySelector("main p").textContent`); got != "/f/contact/thanks|Vielen Dank|Danke! Wir melden uns." {
			t.Errorf("thank-you page: %q", got)
		}
		rec := w.submissionOf("contact", "eva@example.com")
		w.waitStatus(rec["id"].(string), "delivered", time.Minute)
		if c, _ := rec["consent"].(map[string]any); c["text"] != "Schickt mir Produktneuigkeiten" {
			t.Errorf("consent kept in the language shown: %v", c)
		}
		l := w.leadOf("eva@example.com")
		if len(l) != 1 || l[0]["industrycode"] != float64(25) || l[0]["new_utmsource"] != "print" || l[0]["donotbulkemail"] != false {
			t.Errorf("lead: %v", l)
		}
	})

	t.Run("what a form says is shown as text, never run", func(t *testing.T) {
		b := w.tab(t, true, "")
		b.open(w.site.URL + "/pricing?form=xss")
		b.wait(in(shadow, `input[name=email]`))
		label := eval[string](b, in(shadow, `label[for$="f-email"]`)+`.textContent`)
		options := eval[string](b, `[...`+shadow+`.querySelectorAll(".lb-option")].map(e => e.textContent).join("|")`)
		if label != "<img src=x onerror=window.pwned=2>Email" || options != "<script>window.pwned=4</script>|<b>bold</b>" {
			t.Errorf("label %q options %q, want the text as written", label, options)
		}
		if n := eval[int](b, shadow+`.querySelectorAll("img, svg, script, b").length`); n != 0 {
			t.Errorf("%d elements made from the form's words", n)
		}
		if pwned := eval[any](b, `window.pwned`); pwned != nil {
			t.Errorf("window.pwned = %v on the site: a label ran as code", pwned)
		}
		b.open(w.APIURL + "/f/xss")
		b.wait(`document.querySelector("form[data-lb-done]")`)
		if pwned := eval[any](b, `window.pwned`); pwned != nil {
			t.Errorf("window.pwned = %v: a label ran as code", pwned)
		}
	})

	t.Run("spam is answered like a success, kept with its reason, and released", func(t *testing.T) {
		type answer struct {
			code int
			keys string
		}
		post := func(form string, body map[string]string) (answer, string) {
			b, _ := json.Marshal(body)
			req, _ := http.NewRequest(http.MethodPost, w.APIURL+"/f/"+form, bytes.NewReader(b))
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var out map[string]string
			json.NewDecoder(resp.Body).Decode(&out)
			var hk []string
			for k := range resp.Header {
				if k != "Date" && k != "X-Request-Id" && k != "Content-Length" {
					hk = append(hk, k)
				}
			}
			return answer{resp.StatusCode, fmt.Sprint(len(out), out["status"], len(out["id"]), strings.Join(sortStrings(hk), ","))}, out["id"]
		}
		person, personID := post("guarded", map[string]string{"email": "real@example.com", "last_name": "Real", "cf-turnstile-response": "good"})
		_, d := w.do(mustGet(w.APIURL + "/f/timed/definition"))
		held := map[string][2]string{}
		for name, c := range map[string]struct {
			form string
			body map[string]string
		}{
			"honeypot": {"guarded", map[string]string{"email": "bot1@example.com", "last_name": "B", "cf-turnstile-response": "good", "website_url": "http://x"}},
			"captcha":  {"guarded", map[string]string{"email": "bot2@example.com", "last_name": "B", "cf-turnstile-response": "forged"}},
			"too fast": {"timed", map[string]string{"email": "bot3@example.com", "last_name": "B", "_lb_token": fmt.Sprint(d["token"])}},
		} {
			got, id := post(c.form, c.body)
			if got != person {
				t.Errorf("%s: answered %+v, a person %+v", name, got, person)
			}
			held[name] = [2]string{id, c.body["email"]}
		}
		w.waitStatus(personID, "delivered", time.Minute)
		reasons := map[string]string{"honeypot": "honeypot", "captcha": "captcha_failed", "too fast": "too_fast"}
		for name, h := range held {
			rec := w.submission(h[0])
			sp, _ := rec["spam"].(map[string]any)
			if rec["status"] != "spam" || sp["reason"] != reasons[name] {
				t.Errorf("%s: status %v spam %v, want spam with reason %s", name, rec["status"], sp, reasons[name])
			}
			if n := len(w.leadOf(h[1])); n != 0 {
				t.Errorf("%s: %d leads in the CRM, want none", name, n)
			}
		}
		req, _ := http.NewRequest(http.MethodPost, w.APIURL+"/v1/submissions/"+held["captcha"][0]+"/release", nil)
		req.Header.Set("Authorization", "Bearer "+apiToken)
		if code, body := w.do(req); code != http.StatusAccepted {
			t.Fatalf("release: %d %v", code, body)
		}
		w.waitStatus(held["captcha"][0], "delivered", time.Minute)
		if n := len(w.leadOf("bot2@example.com")); n != 1 {
			t.Errorf("released: %d leads, want 1", n)
		}
	})

	t.Run("past the per-address limit: 429 with Retry-After", func(t *testing.T) {
		var last *http.Response
		for i := 0; i < 3; i++ {
			req, _ := http.NewRequest(http.MethodPost, w.APIURL+"/f/limited", strings.NewReader(fmt.Sprintf(`{"email":"l%d@example.com","last_name":"L"}`, i)))
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			last = resp
		}
		if last.StatusCode != http.StatusTooManyRequests || last.Header.Get("Retry-After") == "" {
			t.Errorf("third post in a minute: %d Retry-After %q, want 429 with Retry-After", last.StatusCode, last.Header.Get("Retry-After"))
		}
	})
}

func mustGet(u string) *http.Request { r, _ := http.NewRequest(http.MethodGet, u, nil); return r }

func sortStrings(s []string) []string {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}

// TestFairDeliveryUnderAFlood: one form floods (up to its waiting cap, past
// which intake answers 503), another receives one real lead; the real one
// is delivered while the flood still waits, because each form has a queue
// and workers share themselves between queues.
func TestFairDeliveryUnderAFlood(t *testing.T) {
	config := "forms:" + leadForm("flood", "none") + "    spam: {rate_limit: off, waiting_cap: 150}\n" + leadForm("quiet", "none")
	config = strings.Replace(config, "    spam: {rate_limit: off}   # the tests post hundreds from one address\n", "", 1) // flood has its own spam key
	// Bulk rows charged as single writes: the flood takes seconds to deliver.
	s := startStack(t, options{config: config, workers: -1, emulator: `{"latency_ms":20,"bulk_row_percent":100}`,
		env: map[string]string{"LEADBRIDGE_WORKER_CONCURRENCY": "2", "LEADBRIDGE_LOG_LEVEL": "warn"}})
	ids := make([]string, 0, 150)
	for i := 0; i < 150; i++ {
		code, body := s.postJSON("flood", map[string]any{"email": fmt.Sprintf("f%d@flood.example", i), "last_name": "F"})
		if code != http.StatusAccepted {
			t.Fatalf("flood post %d: %d %v", i, code, body)
		}
		ids = append(ids, body["id"].(string))
	}
	req, _ := http.NewRequest(http.MethodPost, s.APIURL+"/f/flood", strings.NewReader(`{"email":"one@flood.example","last_name":"F"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("past the flood's waiting cap: %d Retry-After %q, want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}

	code, body := s.postJSON("quiet", map[string]any{"email": "real@quiet.example", "last_name": "Real"})
	if code != http.StatusAccepted {
		t.Fatalf("the real lead: %d %v (another form's backlog must not refuse it)", code, body)
	}
	s.StartWorker()
	real := s.waitStatus(body["id"].(string), "delivered", time.Minute)
	waitEachDelivered(s, ids)
	// Compare delivery times rather than look while the flood drains:
	// reading 150 statuses takes time of its own.
	realAt, _ := time.Parse(time.RFC3339Nano, real["delivered_at"].(string))
	waiting := 0
	for _, id := range ids {
		at, _ := time.Parse(time.RFC3339Nano, s.submission(id)["delivered_at"].(string))
		if at.After(realAt) {
			waiting++
		}
	}
	if waiting < 100 {
		t.Errorf("when the real lead was delivered, %d of the flood's 150 were still waiting; want most (the real one went first, not last)", waiting)
	}
	t.Logf("the real lead was delivered with %d of 150 flood submissions still waiting", waiting)
}
