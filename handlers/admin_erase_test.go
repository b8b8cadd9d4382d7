package handlers_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/leadbridge/leadbridge/audit"
	"github.com/leadbridge/leadbridge/internal/testenv"
	"github.com/leadbridge/leadbridge/submission"
)

// TestAdminEraseCountsErasesAndAuditsByReference: the console's Erase page
// previews, then erases a person, behind a session and its CSRF token; the
// address is in no URL, log line or audit entry, and nobody else's
// submissions go.
func TestAdminEraseCountsErasesAndAuditsByReference(t *testing.T) {
	t.Parallel()
	k := newConsole(t, envOptions{})
	ann := k.failed(map[string]string{"email": "ann.erase@example.com", "last_name": "Lee"}, "the length of lastname for ann.erase@example.com")
	bob := k.failed(map[string]string{"email": "bob@example.com", "last_name": "Ng"}, "bad")

	// Without a session, or without the token, nothing happens.
	if resp, _ := k.do(newClient(), http.MethodPost, "/admin/erase", url.Values{"email": {"ann.erase@example.com"}, "action": {"erase"}}); resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusSeeOther {
		t.Errorf("erase without a session: %d", resp.StatusCode)
	}
	csrf := k.signIn()
	if resp, _ := k.do(k.c, http.MethodPost, "/admin/erase", url.Values{"email": {"ann.erase@example.com"}, "action": {"erase"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("erase without the CSRF token: %d, want 403", resp.StatusCode)
	}
	if _, err := k.v.store.Get(context.Background(), ann.ID); err != nil {
		t.Fatalf("refused erasures erased: %v", err)
	}

	resp, page := k.get("/admin/erase")
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `action="/admin/erase"`) {
		t.Fatalf("GET /admin/erase: %d %.300s", resp.StatusCode, page)
	}
	for _, c := range []struct{ email, phone, want string }{
		{"", "", "Email address or a phone number is needed"},
		{"ann", "", "Email address is not an email address"},
		{"", "12", "Phone number needs 10 to 15 digits"},
		{"", strings.Repeat("5", 41), "Phone number is too long"},
	} {
		resp, page := k.do(k.c, http.MethodPost, "/admin/erase", url.Values{"_csrf": {csrf}, "email": {c.email}, "phone": {c.phone}, "action": {"erase"}})
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, c.want) || !strings.Contains(page, `aria-invalid="true"`) {
			t.Errorf("email %q phone %q: %d, want 422 saying %q", c.email, c.phone, resp.StatusCode, c.want)
		}
	}

	resp, page = k.do(k.c, http.MethodPost, "/admin/erase", url.Values{"_csrf": {csrf}, "email": {"ANN.Erase@example.com"}, "action": {"preview"}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "would erase 1 submissions (1 failed)") {
		t.Fatalf("preview: %d %.2000s", resp.StatusCode, page)
	}
	if _, err := k.v.store.Get(context.Background(), ann.ID); err != nil {
		t.Fatalf("the preview erased: %v", err)
	}
	resp, page = k.do(k.c, http.MethodPost, "/admin/erase", url.Values{"_csrf": {csrf}, "email": {"ANN.Erase@example.com"}, "action": {"erase"}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "erased 1 submissions (1 failed)") {
		t.Fatalf("erase: %d %.2000s", resp.StatusCode, page)
	}
	if _, err := k.v.store.Get(context.Background(), ann.ID); !errors.Is(err, submission.ErrNotFound) {
		t.Errorf("Ann's submission after erase: %v", err)
	}
	if _, err := k.v.store.Get(context.Background(), bob.ID); err != nil {
		t.Errorf("Bob's submission after erase: %v", err)
	}
	entries, _, err := audit.New(k.v.rdb).List(context.Background(), "", 20)
	if err != nil {
		t.Fatal(err)
	}
	var erased []audit.Entry
	for _, e := range entries {
		if e.Action == "erase" {
			erased = append(erased, e)
		}
	}
	if len(erased) != 1 || erased[0].By != adminUser || !strings.Contains(erased[0].Detail, "email ref "+submission.EmailRef("ann.erase@example.com")) {
		t.Errorf("audit: %+v; want one erase entry by %s with the address's reference", erased, adminUser)
	}
	if hits := testenv.KeysHolding(t, k.v.redis.Client(), func(s string) bool { return strings.Contains(strings.ToLower(s), "ann.erase@example.com") }); len(hits) > 0 {
		t.Errorf("Redis still holds the address:\n%s", strings.Join(hits, "\n"))
	}
	if strings.Contains(strings.ToLower(k.logs.String()), "ann.erase") {
		t.Errorf("the log quotes the address:\n%s", k.logs.String())
	}
	if _, page := k.get("/admin/audit"); strings.Contains(strings.ToLower(page), "ann.erase") {
		t.Errorf("the audit page shows the address")
	}
}
