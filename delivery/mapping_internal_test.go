package delivery

import (
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/crm"
	"github.com/leadbridge/leadbridge/forms"
	"github.com/leadbridge/leadbridge/submission"
)

func TestSiteOnAndEmailDomain(t *testing.T) {
	for _, tt := range []struct {
		site, dom string
		want      bool
	}{
		{"https://www.contoso.com/about", "contoso.com", true},
		{"contoso.com", "contoso.com", true},
		{"http://CONTOSO.com.", "contoso.com", true},
		{"https://notcontoso.com", "contoso.com", false},
		{"https://contoso.com.evil.example", "contoso.com", false},
		{"https://evil.example/?next=contoso.com", "contoso.com", false},
		{"", "contoso.com", false},
	} {
		if got := siteOn(tt.site, tt.dom); got != tt.want {
			t.Errorf("siteOn(%q, %q) = %v, want %v", tt.site, tt.dom, got, tt.want)
		}
	}
	for in, want := range map[string]string{"Ann@Contoso.COM": "contoso.com", "no-at-sign": "", " a@b.example. ": "b.example"} {
		if got := emailDomain(in); got != want {
			t.Errorf("emailDomain(%q) = %q, want %q", in, got, want)
		}
	}
	if !isFreeMail("gmail.com", nil) || !isFreeMail("isp.example", []string{"isp.example"}) || isFreeMail("contoso.com", nil) {
		t.Error("isFreeMail: gmail.com and a form's own free-mail domain are free mail, contoso.com is not")
	}
}

func TestIDCacheExpires(t *testing.T) {
	now := time.Unix(1000, 0)
	c := &idCache{now: func() time.Time { return now }}
	c.put("campaign:x", "id-1", cacheTTL)
	c.put("campaign:y", "", missTTL)
	if id, ok := c.get("campaign:x"); !ok || id != "id-1" {
		t.Fatalf("fresh hit: %q %v", id, ok)
	}
	now = now.Add(missTTL + time.Second)
	if _, ok := c.get("campaign:y"); ok {
		t.Error("a miss is still remembered after missTTL")
	}
	if _, ok := c.get("campaign:x"); !ok {
		t.Error("a hit is forgotten before cacheTTL")
	}
	now = now.Add(cacheTTL)
	if _, ok := c.get("campaign:x"); ok {
		t.Error("a hit is remembered after cacheTTL")
	}
	for i := 0; i < maxCached+10; i++ {
		c.put(string(rune(i)), "id", cacheTTL)
	}
	if len(c.m) > maxCached {
		t.Errorf("cache holds %d entries, more than %d", len(c.m), maxCached)
	}
}

func TestRuleHolds(t *testing.T) {
	r := &forms.OwnerRule{When: map[string][]string{"country": {"Germany", "Austria"}, "utm_source": {"partner"}}}
	rec := &submission.Record{Source: "form", Attribution: map[string]string{"utm_source": "Partner"}}
	if ok, said := ruleHolds(r, rec, map[string]string{"country": "austria"}); !ok || said != "country = austria, utm_source = Partner" {
		t.Errorf("ruleHolds = %v %q", ok, said)
	}
	if ok, _ := ruleHolds(r, rec, map[string]string{"country": "France"}); ok {
		t.Error("a rule held with a country not listed")
	}
	if ok, _ := ruleHolds(r, &submission.Record{}, map[string]string{"country": "Germany"}); ok {
		t.Error("a rule held without its utm_source")
	}
	src := &forms.OwnerRule{When: map[string][]string{"source": {"hubspot-workflow"}}}
	if ok, _ := ruleHolds(src, &submission.Record{Source: "hubspot-workflow"}, nil); !ok {
		t.Error("a rule on source did not hold for that source")
	}
}

func TestBindGone(t *testing.T) {
	lead := &forms.Form{Table: "lead"}
	for _, tt := range []struct {
		msg  string
		want bool
	}{
		{"account With Id = 1 Does Not Exist", true},
		{"systemuser With Id = 1 Does Not Exist", true},
		{"lead With Id = 1 Does Not Exist", false},    // the lead itself
		{"contact With Id = 1 Does Not Exist", false}, // found or created again by the next attempt
		{"Resource not found for the segment 'x'", false},
	} {
		err := &crm.APIError{Status: 404, Code: crm.CodeObjectDoesNotExist, Message: tt.msg}
		if got := bindGone(err, lead); got != tt.want {
			t.Errorf("bindGone(%q) = %v, want %v", tt.msg, got, tt.want)
		}
	}
}

func TestNoteTextOfTheWholeSubmission(t *testing.T) {
	f := &forms.Form{Note: &forms.Note{From: forms.NoteSubmission}, Fields: []forms.Field{
		{Name: "email", Label: "Email"}, {Name: "empty", Label: "Empty"}, {Name: "message", Label: "Message"}}}
	got := noteText(f, map[string]string{"email": "a@b.example", "message": "line 1\nline 2"})
	if want := "Email: a@b.example\nMessage:\nline 1\nline 2"; got != want {
		t.Errorf("noteText = %q, want %q", got, want)
	}
}

func TestRegistrable(t *testing.T) {
	for host, want := range map[string]string{
		"contoso.com": "contoso.com", "sales.contoso.com": "contoso.com", "a.b.contoso.com": "contoso.com",
		"shop.contoso.co.uk": "contoso.co.uk", "contoso.com.evil.net": "evil.net", "sales.contoso.example": "contoso.example",
		"co.uk": "", "com": "", "": "", ".contoso.com": "", "contoso..com": "",
	} {
		if got := registrable(host); got != want {
			t.Errorf("registrable(%q) = %q, want %q", host, got, want)
		}
	}
}

func TestInErrorKeepsUsersOut(t *testing.T) {
	for p, want := range map[forms.Principal]string{
		{User: "ann.lee@contoso.com"}:                  "user …@contoso.com",
		{User: `CONTOSO\ann.lee`}:                      `user CONTOSO\…`,
		{User: "0a1b2c3d-0000-4000-8000-000000000001"}: "user 0a1b2c3d-0000-4000-8000-000000000001",
		{Team: "Sales Mars"}:                           "team Sales Mars",
	} {
		if got := inError(p); got != want {
			t.Errorf("inError(%v) = %q, want %q", p, got, want)
		}
	}
}
