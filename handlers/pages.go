package handlers

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/leadbridge/leadbridge/forms"
	"github.com/leadbridge/leadbridge/spam"
	"github.com/leadbridge/leadbridge/submission"
)

type formPage struct {
	page
	forms.View
	Fields         []pageField // the View's fields with what was sent and what is wrong
	Problems       []problem   // for the summary, in the fields' order
	Summary        string
	Action         string
	IdempotencyKey string
	Token          string
	Honeypot       string
	Captcha        *captchaView
	PageURL        string // _page: where the form was shown (the attribution comes from its query)
	Referrer       string // _referrer: the page the visitor came from
	ThanksURL      string // where embed.js goes after sending (the no-JavaScript post is redirected there)
	RequiredMark   string
	Choose         string
	Notice         string // what went wrong with the whole submission, if anything did
}

// pageField is one field as the hosted page shows it.
type pageField struct {
	forms.FieldView
	Value string
	Error string
}

// Checked reports whether a checkbox was ticked.
func (f pageField) Checked() bool {
	return f.Value == "true" || f.Value == "on" || f.Value == "yes" || f.Value == "1"
}

// Chosen reports whether a checkbox group's option was ticked: the value
// sent back holds the option's value or label among its comma- or
// semicolon-separated parts (repeated values arrive joined by ", ").
func (f pageField) Chosen(option string) bool {
	label := ""
	for _, o := range f.Options {
		if o.Value == option {
			label = o.Label
		}
	}
	for _, part := range strings.FieldsFunc(f.Value, func(r rune) bool { return r == ',' || r == ';' }) {
		part = strings.TrimSpace(part)
		if part == option || (label != "" && strings.EqualFold(part, label)) {
			return true
		}
	}
	return false
}

// Described is the ids of the help and error texts that describe the
// control, for aria-describedby.
func (f pageField) Described() string {
	var ids []string
	if f.Help != "" {
		ids = append(ids, "h-"+f.Name)
	}
	if f.Error != "" {
		ids = append(ids, "e-"+f.Name)
	}
	return strings.Join(ids, " ")
}

type problem struct{ Name, Label, Message string }

// showForm is GET /f/:form: the hosted form, usable without JavaScript, in
// the language of ?lang= or the browser's.
func (s *server) showForm(c echo.Context) error {
	f, err := s.form(c)
	if err != nil {
		return err
	}
	lang := f.PickLanguage(c.QueryParam("lang"), c.Request().Header.Get("Accept-Language"))
	values := map[string]string{fieldPage: s.ownURL(c), fieldReferrer: c.Request().Referer()}
	return s.renderForm(c, http.StatusOK, f, lang, values, nil, "", "")
}

// renderForm shows the hosted form in lang: values filled in, problems per
// field, a notice about the whole submission, and idem as its key (a new
// one if ""). The form token and the page it was shown on are kept from
// values, so that a form shown again after an error still counts its fill
// time from when it was first served.
func (s *server) renderForm(c echo.Context, status int, f *forms.Form, lang string, values, problems map[string]string, idem, notice string) error {
	if idem == "" {
		// One key per rendered page: a double click or a resubmitted page
		// produces one lead, not two.
		idem = submission.NewID()
	}
	if values == nil {
		values = map[string]string{}
	}
	v := f.View(lang)
	p := formPage{
		page: page{hashes: s.hashes, Lang: lang}, View: v, Action: "/f/" + url.PathEscape(f.ID),
		IdempotencyKey: idem, Notice: notice, Honeypot: f.Spam.Honeypot,
		Token:        values[spam.TokenField],
		PageURL:      truncate(values[fieldPage], 2000),
		Referrer:     truncate(values[fieldReferrer], 2000),
		RequiredMark: f.Message(lang, forms.MsgRequiredMark),
		Choose:       f.Message(lang, forms.MsgChoose),
	}
	if p.Token == "" {
		p.Token = s.Tokens.Issue(f.ID, s.Now())
	}
	if p.PageURL == "" {
		p.PageURL = s.ownURL(c)
	}
	p.ThanksURL = thanksURL(f, lang, "", p.Referrer)
	if cp := f.Spam.Captcha; cp != nil {
		p.Captcha = &captchaView{Provider: string(cp.Provider), SiteKey: cp.SiteKey, Script: cp.Provider.ScriptURL(cp.SiteKey),
			Field: cp.Provider.ResponseField(), Action: cp.Action}
	}
	for _, fv := range v.Fields {
		fp := pageField{FieldView: fv, Value: values[fv.Name], Error: problems[fv.Name]}
		if fp.Error != "" {
			p.Problems = append(p.Problems, problem{fv.Name, fv.Label, fp.Error})
		}
		p.Fields = append(p.Fields, fp)
	}
	for name, msg := range problems { // a problem with no field on the page (a reserved field, a hidden one)
		if _, shown := fieldShown(v, name); !shown {
			p.Problems = append(p.Problems, problem{Name: "", Label: name, Message: msg})
		}
	}
	switch len(p.Problems) {
	case 0:
	case 1:
		p.Summary = f.Message(lang, forms.MsgSummaryOne)
	default:
		p.Summary = f.Message(lang, forms.MsgSummaryMany, len(p.Problems))
	}
	setPageHeaders(c, f)
	return s.render(c, status, "form.html", p)
}

func fieldShown(v forms.View, name string) (forms.FieldView, bool) {
	for _, fv := range v.Fields {
		if fv.Name == name {
			return fv, true
		}
	}
	return forms.FieldView{}, false
}

// thanksURL is the hosted thank-you page of f, in lang, for submission id
// ("" leaves it for embed.js to add), with a way back to page if the form
// allows that site.
func thanksURL(f *forms.Form, lang, id, page string) string {
	q := url.Values{"lang": {lang}}
	if back := backLink(f, page); back != "" {
		q.Set("back", back)
	}
	if id != "" {
		q.Set("id", id)
	}
	return "/f/" + url.PathEscape(f.ID) + "/thanks?" + q.Encode()
}

// thanks is the hosted thank-you page after a plain HTML post, with a link
// back to the site the visitor came from when the form allows that site.
func (s *server) thanks(c echo.Context) error {
	f, err := s.form(c)
	if err != nil {
		return err
	}
	id := c.QueryParam("id")
	if len(id) > 64 {
		id = ""
	}
	lang := f.PickLanguage(c.QueryParam("lang"), c.Request().Header.Get("Accept-Language"))
	back := backLink(f, c.QueryParam("back"))
	backLabel := ""
	if back != "" {
		u, _ := url.Parse(back)
		backLabel = f.Message(lang, forms.MsgBack, u.Host)
	}
	setPageHeaders(c, f)
	return s.render(c, http.StatusOK, "thanks.html", struct {
		page
		Title, Text, Reference, ID, Back, BackLabel string
	}{page{hashes: s.hashes, Lang: lang}, f.Message(lang, forms.MsgThanksTitle), f.View(lang).ThankYou,
		f.Message(lang, forms.MsgReference), id, back, backLabel})
}

// home sends a visitor of the bare address to the first form (the demo form
// when no file is configured); with no form at all there is nothing to show.
func (s *server) home(c echo.Context) error {
	ids := s.Forms.IDs()
	if len(ids) == 0 {
		return echo.NewHTTPError(http.StatusNotFound, "No forms are configured.")
	}
	return c.Redirect(http.StatusFound, "/f/"+url.PathEscape(ids[0]))
}

// captchaSources are the origins a captcha provider's widget loads its
// script, frames and styles from, for the hosted page's CSP (each
// provider's documentation of its CSP).
var captchaSources = map[spam.Provider]string{
	spam.Turnstile:   "https://challenges.cloudflare.com",
	spam.HCaptcha:    "https://hcaptcha.com https://*.hcaptcha.com",
	spam.RecaptchaV2: "https://www.google.com/recaptcha/ https://www.gstatic.com/recaptcha/ https://recaptcha.google.com/recaptcha/",
	spam.RecaptchaV3: "https://www.google.com/recaptcha/ https://www.gstatic.com/recaptcha/ https://recaptcha.google.com/recaptcha/",
}

// setPageHeaders sets a form page's Content-Security-Policy: scripts only
// from leadbridge itself (embed.js, as a file: no inline script, no
// 'unsafe-inline' anywhere) and the form's captcha provider; posts only to
// leadbridge (and the redirect to success_url); shown in a frame only by
// the form's frame_ancestors, else by no one.
func setPageHeaders(c echo.Context, f *forms.Form) {
	script, frame, style := "'self'", "'none'", "'self'"
	if cp := f.Spam.Captcha; cp != nil {
		src := captchaSources[cp.Provider]
		script, frame = script+" "+src, src
		if cp.Provider == spam.HCaptcha {
			style += " " + src
		}
	}
	action := "'self'"
	if u, err := url.Parse(f.SuccessURL); err == nil && f.SuccessURL != "" {
		if o, ok := forms.NormalizeOrigin(u.Scheme + "://" + u.Host); ok {
			action += " " + o
		}
	}
	ancestors := "'none'"
	h := c.Response().Header()
	if len(f.FrameAncestors) > 0 {
		ancestors = strings.Join(f.FrameAncestors, " ")
		h.Del("X-Frame-Options") // frame-ancestors says who may; XFO can only say "nobody" or "same origin"
	}
	h.Set("Content-Security-Policy", "default-src 'none'; script-src "+script+"; style-src "+style+"; img-src 'self' data:; connect-src "+
		script+"; frame-src "+frame+"; form-action "+action+"; frame-ancestors "+ancestors+"; base-uri 'none'")
}
