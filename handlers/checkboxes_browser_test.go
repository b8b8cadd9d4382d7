package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/leadbridge/leadbridge/internal/testenv"
	"github.com/leadbridge/leadbridge/submission"
)

// interestsConfig has a multi-select choice column (kind: choices) with
// option labels in English and German.
const interestsConfig = `
forms:
  prefs:
    title: {en: Stay in touch, de: In Kontakt bleiben}
    language: en
    allowed_origins: ["*"]
    spam: {rate_limit: off}
    fields:
      email: {label: {en: Email, de: E-Mail}, column: emailaddress1, rules: "required,email"}
      interests:
        label: {en: Interests, de: Interessen}
        rules: required
        column: new_interests
        kind: choices
        options:
          - {label: {en: Newsletter, de: Rundbrief}, value: 100000000}
          - {label: {en: Events, de: Veranstaltungen}, value: 100000001}
          - {label: {en: Webinars, de: Webinare}, value: 100000002}
`

// groupPage is a site of its own that embeds the form with embed.js.
const groupPage = `<!doctype html><html lang="de"><head><title>Site</title></head><body>
<script src="/embed.js" data-form="prefs" data-lang="de" async></script></body></html>`

// A multi-select choice is a checkbox group: a fieldset whose legend is the
// field's label, one labelled checkbox per option, in the visitor's
// language. Without JavaScript the page posts repeated values and keeps
// the ticks when it comes back with an error; with it, embed.js (on the
// hosted page and rendered on another site) posts them as a JSON list.
// Either way the record holds the options' values.
func TestBrowserCheckboxGroup(t *testing.T) {
	for _, tt := range []struct {
		name string
		js   bool
		path string
	}{
		{"hosted page without JavaScript", false, "/f/prefs?lang=de"},
		{"hosted page with JavaScript", true, "/f/prefs?lang=de"},
		{"embedded on a site", true, "/site"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := newEnvWith(t, envOptions{configFile: testenv.WriteFile(t, "forms.yaml", interestsConfig)})
			mux := http.NewServeMux()
			mux.HandleFunc("/site", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				fmt.Fprint(w, groupPage)
			})
			mux.Handle("/", v.e)
			b := openBrowserOn(t, tt.js, v, mux)
			ctx := b.ctx
			eval := func(js string) string {
				t.Helper()
				return read(b, chromedp.Evaluate[string](js))
			}
			b.open(tt.path)
			// The document the form lives in: the page, or the embed's shadow root.
			root := "document"
			if tt.path == "/site" {
				root = `document.querySelector(".leadbridge-form").shadowRoot`
				testenv.Eventually(t, 10*time.Second, func() string {
					if eval(`String(!!(document.querySelector(".leadbridge-form") && document.querySelector(".leadbridge-form").shadowRoot && document.querySelector(".leadbridge-form").shadowRoot.querySelector("form")))`) != "true" {
						return "embed.js has not rendered the form"
					}
					return ""
				})
			}
			if tt.js && tt.path != "/site" {
				testenv.Eventually(t, 10*time.Second, func() string {
					if eval(`String(!!document.querySelector("form[data-lb-done] .lb-status"))`) != "true" {
						return "embed.js has not taken the form over"
					}
					return ""
				})
			}
			group := eval(`JSON.stringify((() => {
				const box = ` + root + `.querySelector('[data-field=interests]');
				const fs = box && box.querySelector('fieldset');
				const inputs = fs ? [...fs.querySelectorAll('input')] : [];
				return {
					legend: fs && fs.querySelector('legend') ? fs.querySelector('legend').firstChild.textContent.trim() : '',
					text: box ? box.querySelectorAll('input[type=text], textarea').length : -1,
					boxes: inputs.map(i => i.type + ':' + i.name + ':' + i.value + ':' + [...i.labels].map(l => l.textContent.trim()).join('|')),
				};
			})())`)
			want := `{"legend":"Interessen","text":0,"boxes":["checkbox:interests:100000000:Rundbrief","checkbox:interests:100000001:Veranstaltungen","checkbox:interests:100000002:Webinare"]}`
			if group != want {
				t.Fatalf("the interests field: got %s, want %s", group, want)
			}
			click := func(sel string) {
				t.Helper()
				if got := eval(`(() => { const e = ` + root + `.querySelector(` + jsString(sel) + `); if (!e) return "missing"; e.click(); return ""; })()`); got != "" {
					t.Fatalf("click %s: %s", sel, got)
				}
			}
			if tt.js {
				// Sent with nothing ticked: embed.js marks the group, not a box.
				click(`button[type=submit]`)
				testenv.Eventually(t, 10*time.Second, func() string {
					got := eval(`(() => { const b = ` + root + `.querySelector('[data-field=interests]'), fs = b.querySelector('fieldset');
						return b.classList.contains('lb-invalid') + ':' + fs.getAttribute('aria-invalid') + ':' +
							!!(fs.getAttribute('aria-describedby') || '').split(' ').some(id => id && ` + root + `.getElementById(id) && ` + root + `.getElementById(id).textContent.includes('Interessen')); })()`)
					if got != "true:true:true" {
						return "the group's error: " + got + ", want it marked invalid and described by its message"
					}
					return ""
				})
			}
			tick := `[data-field=interests] input[value="%s"]`
			click(fmt.Sprintf(tick, "100000001"))
			click(fmt.Sprintf(tick, "100000002"))

			if !tt.js {
				// Sent without the email: the page comes back with the ticks kept.
				resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`button[type=submit]`)))
				if err != nil || resp.Status != http.StatusUnprocessableEntity {
					t.Fatalf("send without email: %v %v, want 422", resp, err)
				}
				if got := eval(`[...document.querySelectorAll('[data-field=interests] input:checked')].map(i => i.value).join(',')`); got != "100000001,100000002" {
					t.Errorf("ticked after the error page: %q, want 100000001,100000002", got)
				}
				if n := v.records(t); n != 0 {
					t.Fatalf("records after the error page: %d", n)
				}
			}
			if got := eval(`(() => { const e = ` + root + `.querySelector('input[name=email]'); e.focus(); return ""; })()`); got != "" {
				t.Fatal(got)
			}
			b.do(chromedp.KeyEvent("ann@example.com"))
			if tt.js {
				click(`button[type=submit]`)
			} else if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`button[type=submit]`))); err != nil {
				t.Fatal(err)
			}
			var rec *submission.Record
			testenv.Eventually(t, 10*time.Second, func() string {
				recs, err := v.store.List(context.Background(), submission.ListOptions{Form: "prefs"})
				if err != nil || len(recs) != 1 {
					return fmt.Sprintf("records: %d %v, want 1", len(recs), err)
				}
				rec = recs[0]
				return ""
			})
			if rec.Fields["interests"] != "100000001,100000002" || rec.Fields["email"] != "ann@example.com" {
				t.Errorf("stored: %v, want interests 100000001,100000002", rec.Fields)
			}
		})
	}
}

func jsString(s string) string { return "'" + strings.ReplaceAll(s, "'", `\'`) + "'" }
