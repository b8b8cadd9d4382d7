package handlers_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/leadbridge/leadbridge/audit"
	"github.com/leadbridge/leadbridge/handlers"
	"github.com/leadbridge/leadbridge/internal/testenv"
	"github.com/leadbridge/leadbridge/queue"
	"github.com/leadbridge/leadbridge/submission"
)

const (
	adminUser = "admin"
	adminPass = "correct horse battery"
)

// console is the API with the admin console on, served over HTTP, and a
// browser-like client (cookie jar, no redirects followed) to drive it.
type console struct {
	t    *testing.T
	v    *env
	srv  *httptest.Server
	c    *http.Client
	logs *testenv.Buffer
}

func newConsole(t *testing.T, o envOptions) *console {
	t.Helper()
	if o.admin.User == "" && o.admin.OIDC == nil {
		o.admin = handlers.AdminConfig{User: adminUser, Password: adminPass}
	}
	logs := &testenv.Buffer{}
	if o.log == nil {
		o.log = logs
	}
	v := newEnvWith(t, o)
	srv := httptest.NewServer(v.e)
	t.Cleanup(srv.Close)
	return &console{t: t, v: v, srv: srv, c: newClient(), logs: logs}
}

func newClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// do sends a request as a browser on the console's own page would.
func (k *console) do(c *http.Client, method, path string, form url.Values, hdr ...string) (*http.Response, string) {
	k.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, k.srv.URL+path, body)
	req.Header.Set("Accept", "text/html")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		k.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (k *console) get(path string) (*http.Response, string) {
	return k.do(k.c, http.MethodGet, path, nil)
}

var csrfField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no _csrf field on the page:\n%.2000s", page)
	}
	return m[1]
}

// login signs in with c and returns the session's CSRF token.
func (k *console) login(c *http.Client, user, pass, next string) *http.Response {
	k.t.Helper()
	_, page := k.do(c, http.MethodGet, "/admin/login", nil)
	resp, _ := k.do(c, http.MethodPost, "/admin/login", url.Values{"_csrf": {csrfOf(k.t, page)}, "user": {user}, "password": {pass}, "next": {next}})
	return resp
}

func (k *console) signIn() string {
	k.t.Helper()
	if resp := k.login(k.c, adminUser, adminPass, ""); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin" {
		k.t.Fatalf("sign-in: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, page := k.get("/admin")
	if resp.StatusCode != http.StatusOK {
		k.t.Fatalf("GET /admin after sign-in: %d %.500s", resp.StatusCode, page)
	}
	return csrfOf(k.t, page)
}

// failed stores a submission that failed with Dataverse's 400.
func (k *console) failed(fields map[string]string, msg string) *submission.Record {
	k.t.Helper()
	r := &submission.Record{Form: "demo", Source: "form", Fields: fields,
		LastError: &submission.ErrorInfo{Category: submission.CategoryInvalidData, Status: 400, Code: "0x80044331", Message: msg}}
	if _, err := k.v.store.Create(context.Background(), r); err != nil {
		k.t.Fatal(err)
	}
	return r
}

func (k *console) record(id string) *submission.Record {
	k.t.Helper()
	r, err := k.v.store.Get(context.Background(), id)
	if err != nil {
		k.t.Fatal(err)
	}
	return r
}

func TestAdminConsoleOffSaysHowToTurnItOn(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	for _, path := range []string{"/admin", "/admin/login", "/admin/failed"} {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Accept", "text/html")
		rec := httptest.NewRecorder()
		v.e.ServeHTTP(rec, req)
		if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "LEADBRIDGE_ADMIN_USER") {
			t.Errorf("GET %s with the console off: %d, want 404 saying to set LEADBRIDGE_ADMIN_USER", path, rec.Code)
		}
	}
}

// TestAdminEveryPageAndActionNeedsASession: pages send a visitor without
// a session to sign-in and back; actions are refused and change nothing.
func TestAdminEveryPageAndActionNeedsASession(t *testing.T) {
	t.Parallel()
	k := newConsole(t, envOptions{})
	r := k.failed(map[string]string{"email": "ann@example.com", "last_name": "Lee"}, "too long")
	for _, path := range []string{"/admin", "/admin/failed?status=spam", "/admin/failed.csv", "/admin/submissions/" + r.ID, "/admin/audit"} {
		resp, _ := k.get(path)
		want := "/admin/login?next=" + url.QueryEscape(path)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != want {
			t.Errorf("GET %s without a session: %d to %q, want 303 to %s", path, resp.StatusCode, resp.Header.Get("Location"), want)
		}
	}
	actions := []string{"/admin/logout", "/admin/failed/retry", "/admin/submissions/" + r.ID + "/retry", "/admin/submissions/" + r.ID + "/edit",
		"/admin/submissions/" + r.ID + "/discard", "/admin/submissions/" + r.ID + "/release", "/admin/delivery/pause", "/admin/delivery/resume"}
	for _, path := range actions {
		resp, _ := k.do(k.c, http.MethodPost, path, url.Values{"reason": {"x"}, "_csrf": {"guess"}})
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s without a session: %d, want 403", path, resp.StatusCode)
		}
	}

	// Signed in, but without the session's token, or from another site:
	// refused too.
	tok := k.signIn()
	for _, path := range actions[1:] {
		for _, tc := range []struct {
			name string
			form url.Values
			hdr  []string
		}{
			{"no token", url.Values{"reason": {"x"}}, nil},
			{"another token", url.Values{"reason": {"x"}, "_csrf": {strings.Repeat("A", len(tok))}}, nil},
			{"cross-site", url.Values{"reason": {"x"}, "_csrf": {tok}}, []string{"Sec-Fetch-Site", "cross-site"}},
		} {
			resp, _ := k.do(k.c, http.MethodPost, path, tc.form, tc.hdr...)
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("POST %s signed in, %s: %d, want 403", path, tc.name, resp.StatusCode)
			}
		}
	}
	if got := k.record(r.ID); got.Status != submission.StatusFailed {
		t.Errorf("after refused actions the submission is %s, want failed", got.Status)
	}
	if st, _ := k.v.store.Counts(context.Background()); st[submission.StatusFailed] != 1 {
		t.Errorf("counts after refused actions: %v", st)
	}
	// With the token, it is done.
	resp, _ := k.do(k.c, http.MethodPost, "/admin/submissions/"+r.ID+"/discard", url.Values{"_csrf": {tok}, "reason": {"test entry"}})
	if resp.StatusCode != http.StatusSeeOther || k.record(r.ID).Status != submission.StatusDiscarded {
		t.Errorf("discard with the token: %d, status %s", resp.StatusCode, k.record(r.ID).Status)
	}
}

func TestAdminSignInSessionAndSignOut(t *testing.T) {
	t.Parallel()
	k := newConsole(t, envOptions{})
	base, _ := url.Parse(k.srv.URL + "/admin")

	// A session id planted before sign-in (fixation) is not the one used.
	k.c.Jar.SetCookies(base, []*http.Cookie{{Name: "lb_admin", Value: "planted-by-an-attacker", Path: "/admin"}})
	if resp := k.login(k.c, adminUser, "wrong password!", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d, want 401", resp.StatusCode)
	}
	resp := k.login(k.c, "ADMIN", adminPass, "/admin/audit?before=1-0")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/audit?before=1-0" {
		t.Fatalf("sign-in: %d to %q, want 303 back to where the visitor was going", resp.StatusCode, resp.Header.Get("Location"))
	}
	var sess *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "lb_admin" {
			sess = ck
		}
	}
	if sess == nil || sess.Value == "planted-by-an-attacker" || len(sess.Value) < 40 {
		t.Fatalf("session cookie: %+v, want a new random id", sess)
	}
	if !sess.HttpOnly || sess.SameSite != http.SameSiteLaxMode || sess.Path != "/admin" || sess.Secure {
		t.Errorf("session cookie over http: %+v, want HttpOnly, SameSite=Lax, Path=/admin, not Secure", sess)
	}
	for _, k := range k.v.rdb.Keys(context.Background(), "lb:admin:session:*").Val() {
		if strings.Contains(k, sess.Value) {
			t.Errorf("Redis key %s holds the session id", k)
		}
	}
	if resp, page := k.get("/admin"); resp.StatusCode != http.StatusOK || !strings.Contains(page, "Sign out") {
		t.Fatalf("overview after sign-in: %d", resp.StatusCode)
	}
	if got := resp.Header.Get("Content-Security-Policy"); got != "" {
		t.Errorf("a redirect carries a CSP %q", got)
	}
	_, page := k.get("/admin")
	tok := csrfOf(t, page)

	// Sign-out ends the session in Redis: the same cookie, replayed, is nothing.
	stolen := newClient()
	stolen.Jar.SetCookies(base, []*http.Cookie{{Name: "lb_admin", Value: sess.Value, Path: "/admin"}})
	if resp, _ := k.do(stolen, http.MethodGet, "/admin", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("the session cookie in another client before sign-out: %d", resp.StatusCode)
	}
	if resp, _ := k.do(k.c, http.MethodPost, "/admin/logout", url.Values{"_csrf": {tok}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign out: %d", resp.StatusCode)
	}
	if resp, _ := k.do(stolen, http.MethodGet, "/admin", nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the old session cookie after sign-out: %d, want a redirect to sign-in", resp.StatusCode)
	}
	entries, _, _ := audit.New(k.v.rdb).List(context.Background(), "", 10)
	if len(entries) != 2 || entries[0].Action != "sign-out" || entries[1].Action != "sign-in" || entries[1].By != adminUser {
		t.Errorf("audit log: %+v, want sign-in and sign-out by admin", entries)
	}
}

func TestAdminSecureCookieBehindATrustedProxy(t *testing.T) {
	t.Parallel()
	_, loopback, _ := net.ParseCIDR("127.0.0.0/8")
	for _, tc := range []struct {
		name    string
		proxies []*net.IPNet
		secure  bool
	}{
		{"proxy trusted", []*net.IPNet{loopback}, true},
		{"no proxy trusted: the header is a client's claim", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := newConsole(t, envOptions{proxies: tc.proxies})
			_, page := k.do(k.c, http.MethodGet, "/admin/login", nil, "X-Forwarded-Proto", "https")
			// The jar would not send a Secure cookie over http: send it by hand.
			ck, _ := k.c.Jar.Cookies(&url.URL{Scheme: "https", Host: strings.TrimPrefix(k.srv.URL, "http://"), Path: "/admin"}), 0
			req, _ := http.NewRequest(http.MethodPost, k.srv.URL+"/admin/login", strings.NewReader(url.Values{
				"_csrf": {csrfOf(t, page)}, "user": {adminUser}, "password": {adminPass}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-Forwarded-Proto", "https")
			for _, c := range ck {
				req.AddCookie(c)
			}
			resp, err := newClient().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			var sess *http.Cookie
			for _, c := range resp.Cookies() {
				if c.Name == "lb_admin" {
					sess = c
				}
			}
			if sess == nil || sess.Secure != tc.secure {
				t.Errorf("session cookie %+v (status %d), want Secure=%v", sess, resp.StatusCode, tc.secure)
			}
		})
	}
}

// TestAdminNextIsALocalPath: sign-in never sends anyone to another site.
func TestAdminNextIsALocalPath(t *testing.T) {
	t.Parallel()
	k := newConsole(t, envOptions{})
	for next, want := range map[string]string{
		"/admin/failed?status=spam": "/admin/failed?status=spam",
		"//evil.example/admin":      "/admin",
		"https://evil.example/":     "/admin",
		"/\\evil.example":           "/admin",
		"/admin\\@evil.example":     "/admin",
		"/adminx/../../x":           "/admin",
		"/admin/../f/demo":          "/admin",
		"javascript:alert(1)":       "/admin",
		"/f/demo":                   "/admin",
		"/admin/%0d%0aSet-Cookie:x": "/admin/%0d%0aSet-Cookie:x",
	} {
		c := newClient()
		resp := k.login(c, adminUser, adminPass, next)
		if got := resp.Header.Get("Location"); got != want {
			t.Errorf("next=%q: redirected to %q, want %q", next, got, want)
		}
	}
	// The sign-in page carries next into its form escaped, never as markup.
	_, page := k.get("/admin/login?next=" + url.QueryEscape(`/admin"><script>alert(1)</script>`))
	if strings.Contains(page, "<script>alert(1)") {
		t.Error("the sign-in page echoes next unescaped")
	}
}

// TestAdminLoginFloodIsSlowed: after ten wrong passwords for a user, even
// the right one waits (429 with Retry-After); so does one address trying
// many user names.
func TestAdminLoginFloodIsSlowed(t *testing.T) {
	t.Parallel()
	hash, _ := bcrypt.GenerateFromPassword([]byte(adminPass), bcrypt.MinCost)
	k := newConsole(t, envOptions{admin: handlers.AdminConfig{User: adminUser, PasswordHash: hash}})
	for i := range 10 {
		if resp := k.login(k.c, adminUser, fmt.Sprintf("guess %d", i), ""); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d, want 401", i+1, resp.StatusCode)
		}
	}
	resp := k.login(k.c, adminUser, adminPass, "")
	ra, _ := time.ParseDuration(resp.Header.Get("Retry-After") + "s")
	if resp.StatusCode != http.StatusTooManyRequests || ra < 25*time.Second {
		t.Fatalf("the right password after ten wrong ones: %d, Retry-After %q; want 429 and about 30 s", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// Another user name from another address is not held up by it.
	other := newConsole(t, envOptions{})
	if resp := other.login(other.c, adminUser, adminPass, ""); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("another console: %d", resp.StatusCode)
	}
	// One address trying many names is slowed after 30 attempts (ten of
	// them above).
	for i := range 20 {
		if resp := k.login(newClient(), fmt.Sprintf("user%d", i), "x", ""); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d from one address: %d, want 401", i+1, resp.StatusCode)
		}
	}
	if resp := k.login(newClient(), "user-next", "x", ""); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("attempt 31 from one address: %d, want 429", resp.StatusCode)
	}
	if strings.Contains(k.logs.String(), "guess") {
		t.Error("a password reached the log")
	}
}

// TestAdminShowsHostileValuesAsText: values people typed and Dataverse's
// messages are escaped in every HTML context, and defused in the CSV.
func TestAdminShowsHostileValuesAsText(t *testing.T) {
	t.Parallel()
	k := newConsole(t, envOptions{})
	hostile := `"><script>alert(1)</script><img src=x onerror=alert(2)>`
	r := k.failed(map[string]string{
		"email": "ann@example.com", "last_name": hostile, "first_name": `javascript:alert(3)`, "company": "=HYPERLINK(\"http://evil.example\")",
		"message": "+cmd|' /C calc'!A0", "job_title": "@SUM(1+1)", "phone": "-2+3",
	}, `The length of 'jobtitle' exceeded: `+hostile)
	k.signIn()
	for _, path := range []string{"/admin/failed", "/admin/submissions/" + r.ID, "/admin/failed?q=" + url.QueryEscape(hostile)} {
		_, page := k.get(path)
		for _, bad := range []string{"<script>alert(1)", "<img src=x", `"><script`} {
			if strings.Contains(page, bad) {
				t.Errorf("%s shows %q unescaped", path, bad)
			}
		}
	}
	resp, body := k.get("/admin/failed.csv")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("CSV: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("CSV: %v, %d rows:\n%s", err, len(rows), body)
	}
	for i, cell := range rows[1] {
		if cell != "" && strings.ContainsRune("=+-@", rune(cell[0])) {
			t.Errorf("CSV column %s starts with a formula character: %q", rows[0][i], cell)
		}
	}
	if !bytes.Contains([]byte(body), []byte(`'=HYPERLINK`)) {
		t.Errorf("CSV lacks the defused '=HYPERLINK:\n%s", body)
	}
}

// TestAdminActionsGoThroughTheLifeCycle drives every action over HTTP.
func TestAdminActionsGoThroughTheLifeCycle(t *testing.T) {
	t.Parallel()
	k := newConsole(t, envOptions{})
	tok := k.signIn()
	post := func(path string, form url.Values) (*http.Response, string) {
		t.Helper()
		form.Set("_csrf", tok)
		return k.do(k.c, http.MethodPost, path, form)
	}
	long := strings.Repeat("x", 60)
	a := k.failed(map[string]string{"email": "ann@example.com", "last_name": "Lee", "job_title": long}, "too long")

	// An edit that breaks the form's rules changes nothing.
	resp, page := post("/admin/submissions/"+a.ID+"/edit", url.Values{"f.email": {"not-an-email"}, "f.last_name": {"Lee"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, "Email must be a valid email address") {
		t.Errorf("invalid edit: %d, want 422 naming the field", resp.StatusCode)
	}
	if got := k.record(a.ID); got.Status != submission.StatusFailed || got.Fields["job_title"] != long {
		t.Errorf("after a refused edit: %s %v", got.Status, got.Fields)
	}
	// A valid one is kept, with who and before → after, and queued.
	resp, _ = post("/admin/submissions/"+a.ID+"/edit", url.Values{"f.email": {"Ann@Example.com"}, "f.last_name": {"Lee"}, "f.job_title": {"CEO"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/submissions/"+a.ID+"?done=edited" {
		t.Fatalf("edit: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	got := k.record(a.ID)
	if got.Status != submission.StatusAccepted || got.Fields["job_title"] != "CEO" || got.Fields["email"] != "ann@example.com" ||
		len(got.Edits) != 1 || got.Edits[0].By != adminUser || got.Edits[0].Before["job_title"] != long {
		t.Errorf("after the edit: %s %v %+v", got.Status, got.Fields, got.Edits)
	}
	if ok, _ := queue.NewClient(k.v.rdb).Queued(got); !ok {
		t.Error("the edited submission is not queued")
	}
	// The same action again is refused with the reason, on the page.
	resp, page = post("/admin/submissions/"+a.ID+"/retry", url.Values{})
	if resp.StatusCode != http.StatusConflict || !strings.Contains(page, "this one is accepted") {
		t.Errorf("retry of an accepted submission: %d", resp.StatusCode)
	}

	// Discard needs a reason; release takes spam to delivery.
	b := k.failed(map[string]string{"email": "bo@example.com", "last_name": "Ng"}, "bad")
	if resp, _ := post("/admin/submissions/"+b.ID+"/discard", url.Values{"reason": {"  "}}); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("discard without a reason: %d, want 422", resp.StatusCode)
	}
	if resp, _ := post("/admin/submissions/"+b.ID+"/discard", url.Values{"reason": {"test entry by the web agency"}}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("discard: %d", resp.StatusCode)
	}
	spam := &submission.Record{Form: "demo", Fields: map[string]string{"email": "cy@example.com", "last_name": "Ko"}, Spam: &submission.SpamInfo{Reason: "honeypot"}}
	k.v.store.Create(context.Background(), spam)
	if resp, _ := post("/admin/submissions/"+spam.ID+"/release", url.Values{}); resp.StatusCode != http.StatusSeeOther || k.record(spam.ID).Status != submission.StatusAccepted {
		t.Errorf("release: %d, %s", resp.StatusCode, k.record(spam.ID).Status)
	}

	// Bulk retry of a filter: these two, not the other form's.
	c1 := k.failed(map[string]string{"email": "d1@example.com", "last_name": "D"}, "down")
	c2 := k.failed(map[string]string{"email": "d2@example.com", "last_name": "D"}, "down")
	resp, _ = post("/admin/failed/retry", url.Values{"status": {"failed"}, "category": {"invalid_data"}})
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "retried=2") {
		t.Errorf("bulk retry: %d to %q, want 2 retried", resp.StatusCode, loc)
	}
	for _, id := range []string{c1.ID, c2.ID} {
		if k.record(id).Status != submission.StatusAccepted {
			t.Errorf("%s after bulk retry: %s", id, k.record(id).Status)
		}
	}

	// Pause and resume: the flag every worker obeys.
	post("/admin/delivery/pause", url.Values{})
	if st, _ := queue.NewClient(k.v.rdb).Paused(context.Background()); !st.Paused || st.By != adminUser {
		t.Errorf("after pause: %+v", st)
	}
	if _, page := k.get("/admin"); !strings.Contains(page, "Resume delivery") {
		t.Error("the overview does not offer to resume")
	}
	post("/admin/delivery/resume", url.Values{})
	if st, _ := queue.NewClient(k.v.rdb).Paused(context.Background()); st.Paused {
		t.Error("still paused after resume")
	}

	// Every action is in the audit log, with the discard's reason.
	_, page = k.get("/admin/audit")
	for _, want := range []string{"edit", "discard", "test entry by the web agency", "release", "bulk-retry", "pause", "resume", "changed job_title"} {
		if !strings.Contains(page, want) {
			t.Errorf("audit page lacks %q", want)
		}
	}
	// Ids are looked up only when they look like ids; others are 404.
	for _, id := range []string{"nope", "..%2F..%2Fetc", strings.Repeat("a", 65), "%7Blb%7D:rec:x"} {
		if resp, _ := k.get("/admin/submissions/" + id); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET submission %q: %d, want 404", id, resp.StatusCode)
		}
	}
	// No address or name reached the log.
	for _, personal := range []string{"ann@example.com", "bo@example.com", "Lee", "web agency"} {
		if strings.Contains(k.logs.String(), personal) {
			t.Errorf("the log holds %q", personal)
		}
	}
}

// TestAdminFiltersAreBounded: oversized or nonsense filters are a page
// that says so, not a long scan.
func TestAdminFiltersAreBounded(t *testing.T) {
	t.Parallel()
	k := newConsole(t, envOptions{})
	k.signIn()
	for query, want := range map[string]int{
		"?q=" + strings.Repeat("a", 400):    http.StatusBadRequest,
		"?status=nope":                      http.StatusBadRequest,
		"?category=nope":                    http.StatusBadRequest,
		"?from=yesterday":                   http.StatusBadRequest,
		"?from=2026-05-02&to=2026-05-01":    http.StatusBadRequest,
		"?cursor=garbage":                   http.StatusBadRequest,
		"?size=100000":                      http.StatusOK,
		"?q=" + url.QueryEscape("a b c; d"): http.StatusBadRequest,
	} {
		if resp, _ := k.get("/admin/failed" + query); resp.StatusCode != want {
			t.Errorf("GET /admin/failed%.60s: %d, want %d", query, resp.StatusCode, want)
		}
	}
	if resp, _ := k.get("/admin/audit?before=1-x"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("audit with a bad cursor: %d, want 400", resp.StatusCode)
	}
}

// TestAdminRedisHungIsAnErrorPage: with Redis stopped (connections open,
// nothing answered) a page answers 503 instead of hanging.
func TestAdminRedisHungIsAnErrorPage(t *testing.T) {
	t.Parallel()
	k := newConsole(t, envOptions{})
	k.signIn()
	k.v.redis.Pause()
	defer k.v.redis.Resume()
	for _, path := range []string{"/admin", "/admin/failed"} {
		resp, page := k.get(path)
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(page, "did not answer in time") || resp.Header.Get("Retry-After") == "" {
			t.Errorf("GET %s with Redis hung: %d, want 503 saying Redis did not answer", path, resp.StatusCode)
		}
	}
}
