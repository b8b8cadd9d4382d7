package handlers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/leadbridge/leadbridge/audit"
	"github.com/leadbridge/leadbridge/crmhealth"
	"github.com/leadbridge/leadbridge/forms"
	"github.com/leadbridge/leadbridge/queue"
	"github.com/leadbridge/leadbridge/submission"
)

// categoryWords name the error categories for people.
var categoryWords = map[string]string{
	submission.CategoryInvalidData:   "Invalid data",
	submission.CategoryPermission:    "Permission",
	submission.CategoryConfiguration: "Configuration",
	submission.CategoryThrottled:     "Throttled",
	submission.CategoryUnavailable:   "CRM unavailable",
	submission.CategoryAuth:          "Dataverse sign-in",
}

// categoryHelp says what to do about each category.
var categoryHelp = map[string]string{
	submission.CategoryInvalidData:   "Dataverse refused the values. Correct the fields below and retry, or discard it.",
	submission.CategoryPermission:    "leadbridge's application user lacks a privilege in Dataverse. Fix its security role, then retry.",
	submission.CategoryConfiguration: "A setting of leadbridge does not fit this Dataverse environment (a column, table or key). Fix the form's mapping, then retry.",
	submission.CategoryThrottled:     "Dataverse asked leadbridge to slow down; it retries by itself.",
	submission.CategoryUnavailable:   "Dataverse could not be reached or failed; leadbridge retries by itself until its retry horizon.",
	submission.CategoryAuth:          "leadbridge could not sign in to Dataverse. Check the app registration's secret and the tenant, then retry.",
}

// Category is a category in words.
func Category(c string) string {
	if w, ok := categoryWords[c]; ok {
		return w
	}
	return c
}

// statusOrder is how the console lists statuses.
var statusOrder = []string{
	submission.StatusAccepted, submission.StatusDelivering, submission.StatusRetrying, submission.StatusDelivered,
	submission.StatusFailed, submission.StatusSpam, submission.StatusDiscarded,
}

// ---- Overview ----

type overviewPage struct {
	adminPage
	Done      string
	Day, Week submission.Tally
	Statuses  []string
	Origins   []originRow
	Backlog   submission.Backlog
	Now       time.Time
	CRM       crmhealth.Report
	Pause     queue.PauseState
	FailedNow int64
}

type originRow struct {
	Origin, Label string
	Day, Week     int64 // received
	Week7         map[string]int64
}

// Waiting is how many of them wait for delivery now.
func (o originRow) Waiting() int64 {
	return o.Week7[submission.StatusAccepted] + o.Week7[submission.StatusDelivering] + o.Week7[submission.StatusRetrying]
}

// CategoryWords is a category in words, for the template.
func (overviewPage) CategoryWords(c string) string { return Category(c) }

// CRMState is the Dataverse card: a word, its colour, and since when.
func (p overviewPage) CRMState() (word, class string) {
	r := p.CRM
	failingSince := func(e *crmhealth.Error) bool { return e != nil && e.At.After(r.OKAt) }
	switch {
	case failingSince(r.Auth):
		return "Sign-in failing", "bad"
	case failingSince(r.LastError) && r.LastError.Category == submission.CategoryUnavailable:
		return "Not answering", "bad"
	case r.Throttled(p.Now):
		return "Throttled", "warn"
	case !r.OKAt.IsZero():
		return "Connected", "ok"
	}
	return "No word yet", ""
}

// CRMWord and CRMClass are CRMState's parts, for the template.
func (p overviewPage) CRMWord() string  { w, _ := p.CRMState(); return w }
func (p overviewPage) CRMClass() string { _, c := p.CRMState(); return c }

// Throttled reports whether Dataverse's last Retry-After runs still.
func (p overviewPage) Throttled() bool { return p.CRM.Throttled(p.Now) }

var doneWords = map[string]string{
	"paused":  "Delivery is paused for every worker. Submissions keep arriving and wait until you resume.",
	"resumed": "Delivery is running again; what waited is being delivered.",
}

// DoneText is the confirmation of the action just done.
func (p overviewPage) DoneText() string { return doneWords[p.Done] }

// adminOverview is GET /admin.
func (s *server) adminOverview(c echo.Context) error {
	ctx := c.Request().Context()
	now := time.Now().UTC()
	p := overviewPage{adminPage: s.newAdminPage(c, "Overview", "overview"), Statuses: statusOrder, Now: now, Done: c.QueryParam("done")}
	var err error
	if p.Day, err = s.Store.Tally(ctx, now.Add(-24*time.Hour)); err != nil {
		return adminErr(err)
	}
	if p.Week, err = s.Store.Tally(ctx, now.Add(-7*24*time.Hour)); err != nil {
		return adminErr(err)
	}
	if p.Backlog, err = s.Store.Backlog(ctx); err != nil {
		return adminErr(err)
	}
	if p.CRM, err = crmhealth.Read(ctx, s.Redis); err != nil {
		return adminErr(err)
	}
	if p.Pause, err = s.Queue.Paused(ctx); err != nil {
		return adminErr(err)
	}
	counts, err := s.Store.Counts(ctx)
	if err != nil {
		return adminErr(err)
	}
	p.FailedNow = counts[submission.StatusFailed]
	for _, o := range s.origins(p.Week) {
		row := originRow{Origin: o, Label: s.originLabel(o), Week7: p.Week.ByOrigin[o]}
		for _, n := range p.Day.ByOrigin[o] {
			row.Day += n
		}
		for _, n := range row.Week7 {
			row.Week += n
		}
		p.Origins = append(p.Origins, row)
	}
	return s.renderAdmin(c, http.StatusOK, "overview.html", p)
}

// origins are the configured forms and every origin seen in t, sorted.
func (s *server) origins(t submission.Tally) []string {
	var out []string
	for _, id := range s.Forms.IDs() {
		out = append(out, "form:"+id)
	}
	for o := range t.ByOrigin {
		out = append(out, o)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// originLabel names an origin for people.
func (s *server) originLabel(origin string) string {
	if id, ok := strings.CutPrefix(origin, "form:"); ok {
		if f := s.Forms[id]; f != nil && f.Title != id {
			return f.Title + " (" + id + ")"
		}
		return "Form " + id
	}
	if src, ok := strings.CutPrefix(origin, "hook:"); ok {
		return "Webhook " + src
	}
	return origin
}

// ---- Submission lists ----

// listFilter is what a list shows: the query string of /admin/failed, the
// hidden fields of its bulk retry and the export's query.
type listFilter struct {
	Status   string // a status, or "all"; default failed
	Origin   string
	Category string
	From, To string // dates (2026-05-01, UTC) or RFC 3339 times
	Q        string // an email address or a submission id
	Cursor   string
	Size     int
}

func parseFilter(get func(string) string) listFilter {
	f := listFilter{
		Status: get("status"), Origin: get("origin"), Category: get("category"),
		From: get("from"), To: get("to"), Q: strings.TrimSpace(get("q")), Cursor: get("cursor"),
	}
	if f.Status == "" {
		f.Status = submission.StatusFailed
	}
	f.Size, _ = strconv.Atoi(get("size"))
	if f.Size < 10 || f.Size > 200 {
		f.Size = 50
	}
	return f
}

// query checks the filter and turns it into a store query; the error says
// what is wrong with it, in words for the page.
func (f listFilter) query() (submission.Query, string) {
	q := submission.Query{Origin: f.Origin, Category: f.Category, Cursor: f.Cursor, Limit: f.Size}
	switch {
	case f.Status == "all":
	case submission.ValidStatus(f.Status):
		q.Status = f.Status
	default:
		return q, "Choose a status from the list."
	}
	if len(f.Origin) > 200 || len(f.Category) > 50 || len(f.Cursor) > 200 || len(f.Q) > 320 {
		return q, "The filter is too long."
	}
	if f.Category != "" && categoryWords[f.Category] == "" {
		return q, "Choose a category from the list."
	}
	var err error
	if q.From, err = parseDay(f.From, false); err != nil {
		return q, "“From” must be a date like 2026-05-01."
	}
	if q.To, err = parseDay(f.To, true); err != nil {
		return q, "“To” must be a date like 2026-05-31."
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return q, "“From” must be before “To”."
	}
	switch {
	case f.Q == "":
	case strings.Contains(f.Q, "@"):
		if q.Email = submission.NormalizeEmail(f.Q); q.Email == "" {
			return q, "That is not an email address."
		}
	case validSubmissionID.MatchString(f.Q):
		q.ID = f.Q
	default:
		return q, "Search by an email address or a submission id."
	}
	return q, ""
}

// parseDay reads a date (a whole UTC day: its start, or for the end of a
// range the next day's start) or an RFC 3339 time.
func parseDay(s string, end bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	d, err := time.Parse("2006-01-02", s)
	if err != nil || d.Year() < 2000 || d.Year() > 9999 {
		return time.Time{}, fmt.Errorf("bad date")
	}
	if end {
		d = d.AddDate(0, 0, 1)
	}
	return d, nil
}

// values is the filter as a query string, without the cursor.
func (f listFilter) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"status": f.Status, "origin": f.Origin, "category": f.Category, "from": f.From, "to": f.To, "q": f.Q} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if f.Size != 50 {
		v.Set("size", strconv.Itoa(f.Size))
	}
	return v
}

// Describe is the filter in words, for the audit log.
func (f listFilter) Describe() string {
	var parts []string
	for _, kv := range [][2]string{{"status", f.Status}, {"origin", f.Origin}, {"category", f.Category}, {"from", f.From}, {"to", f.To}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+"="+kv[1])
		}
	}
	if f.Q != "" {
		parts = append(parts, "a search") // an email is personal data: not in the log
	}
	return strings.Join(parts, ", ")
}

type listPage struct {
	adminPage
	Filter     listFilter
	Problem    string
	Rows       []listRow
	Next       string // the next page's URL
	First      string // the first page's URL
	Partial    bool
	Export     string // the CSV's URL
	Statuses   []string
	Categories []string
	Origins    []option
	Done       doneCounts
}

type option struct{ Value, Label string }

type listRow struct {
	R      *submission.Record
	When   time.Time
	Origin string
	Who    string
	Email  string
}

// doneCounts report a bulk retry (numbers only from the query string).
type doneCounts struct {
	Set                    bool
	Retried, Skipped, More int
}

// Heading is the list's title.
func (p listPage) Heading() string {
	switch p.Filter.Status {
	case "all":
		return "All submissions"
	case submission.StatusFailed:
		return "Failed submissions"
	case submission.StatusSpam:
		return "Held as spam"
	}
	return upperFirst(p.Filter.Status) + " submissions"
}

// CategoryWords is a category in words, for the template.
func (listPage) CategoryWords(c string) string { return Category(c) }

// adminList is GET /admin/failed: a list of submissions, failed ones by
// default, newest first.
func (s *server) adminList(c echo.Context) error {
	f := parseFilter(c.QueryParam)
	p := listPage{
		adminPage: s.newAdminPage(c, "Failed submissions", "failed"), Filter: f,
		Statuses: append(slices.Clone(statusOrder), "all"), Categories: []string{
			submission.CategoryInvalidData, submission.CategoryConfiguration, submission.CategoryPermission,
			submission.CategoryAuth, submission.CategoryUnavailable, submission.CategoryThrottled,
		},
	}
	switch f.Status {
	case submission.StatusSpam:
		p.Nav = "spam"
	case "all":
		p.Nav = "all"
	}
	p.Title = p.Heading()
	if c.QueryParam("retried") != "" {
		p.Done.Set = true
		p.Done.Retried, _ = strconv.Atoi(c.QueryParam("retried"))
		p.Done.Skipped, _ = strconv.Atoi(c.QueryParam("skipped"))
		p.Done.More, _ = strconv.Atoi(c.QueryParam("more"))
	}
	ctx := c.Request().Context()
	week, err := s.Store.Tally(ctx, time.Now().Add(-7*24*time.Hour))
	if err != nil {
		return adminErr(err)
	}
	for _, o := range s.origins(week) {
		p.Origins = append(p.Origins, option{o, s.originLabel(o)})
	}
	q, problem := f.query()
	status := http.StatusOK
	if problem != "" {
		p.Problem = problem
		return s.renderAdmin(c, http.StatusBadRequest, "list.html", p)
	}
	q.MaxScan = 5000
	page, err := s.Store.Search(ctx, q)
	if err != nil {
		return adminErr(err)
	}
	for _, r := range page.Records {
		row := listRow{R: r, When: r.UpdatedAt, Origin: s.originLabel(r.Origin())}
		row.Who, row.Email = s.who(r)
		p.Rows = append(p.Rows, row)
	}
	v := f.values()
	p.First = "/admin/failed?" + v.Encode()
	p.Export = "/admin/failed.csv?" + v.Encode()
	if page.Next != "" {
		v.Set("cursor", page.Next)
		p.Next = "/admin/failed?" + v.Encode()
	}
	p.Partial = page.Partial
	return s.renderAdmin(c, status, "list.html", p)
}

// who is a submission's person: their name and email, as the form's roles
// say which fields hold them.
func (s *server) who(r *submission.Record) (name, email string) {
	f := s.Forms[r.Form]
	if f == nil {
		return r.Fields["first_name"] + " " + r.Fields["last_name"], r.Fields["email"]
	}
	var names []string
	for _, fd := range f.Fields {
		switch {
		case fd.Role == forms.RoleName && r.Fields[fd.Name] != "":
			names = append(names, r.Fields[fd.Name])
		case fd.Role == forms.RoleEmail && email == "":
			email = r.Fields[fd.Name]
		}
	}
	return strings.Join(names, " "), email
}

// ---- Submission detail ----

type detailPage struct {
	adminPage
	R        *submission.Record
	Form     *forms.Form
	Origin   string
	Fields   []fieldRow
	Extra    []fieldRow // values the form does not define
	Payload  string     // a webhook's body, indented when it is JSON
	Who      string
	Done     string
	Problem  string
	Errors   map[string]string // the edit form's field errors
	Values   map[string]string // the edit form's values after a refusal
	Reason   string
	Now      time.Time
	Category string
	Help     string
}

type fieldRow struct {
	Name, Label, Column, Value string
	Bool, Multiline            bool
}

var detailDone = map[string]string{
	"retried":   "Queued for delivery again.",
	"edited":    "Saved and queued for delivery with the corrected values.",
	"discarded": "Discarded. It will not be delivered.",
	"released":  "Released from spam and queued for delivery.",
}

// DoneText is the confirmation of the action just done.
func (p detailPage) DoneText() string { return detailDone[p.Done] }

// CanRetry and the others say which actions the life cycle allows now.
func (p detailPage) CanRetry() bool {
	return p.R.Status == submission.StatusFailed || p.R.Status == submission.StatusDiscarded
}
func (p detailPage) CanEdit() bool { return p.CanRetry() || p.R.Status == submission.StatusSpam }
func (p detailPage) CanDiscard() bool {
	return p.R.Status == submission.StatusFailed || p.R.Status == submission.StatusSpam
}
func (p detailPage) CanRelease() bool { return p.R.Status == submission.StatusSpam }

// Value is what the edit form shows for a field.
func (p detailPage) Value(name string) string {
	if p.Values != nil {
		return p.Values[name]
	}
	return p.R.Fields[name]
}

// Show formats a value of a change (before or after) for people.
func (detailPage) Show(v any) string {
	switch v := v.(type) {
	case nil:
		return "(empty)"
	case string:
		if v == "" {
			return "(empty)"
		}
		return v
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// Seconds formats an attempt's duration.
func (detailPage) Seconds(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) + " s" }

// Added lists the fields an edit set that had no value before, in order.
func (detailPage) Added(e submission.Edit) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(e.After)) {
		if _, ok := e.Before[k]; !ok {
			out = append(out, k)
		}
	}
	return out
}

// SortedKeys lists a map's keys in order, for the template.
func (detailPage) SortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

// adminDetail is GET /admin/submissions/:id.
func (s *server) adminDetail(c echo.Context) error {
	id, err := submissionParam(c)
	if err != nil {
		return err
	}
	p, err := s.detail(c, id)
	if err != nil {
		return err
	}
	p.Done = c.QueryParam("done")
	return s.renderAdmin(c, http.StatusOK, "detail.html", p)
}

func (s *server) detail(c echo.Context, id string) (*detailPage, error) {
	r, err := s.Store.Get(c.Request().Context(), id)
	if err != nil {
		return nil, adminErr(err)
	}
	p := &detailPage{adminPage: s.newAdminPage(c, "Submission "+id, "failed"), R: r, Form: s.Forms[r.Form],
		Origin: s.originLabel(r.Origin()), Now: time.Now().UTC()}
	p.Who, _ = s.who(r)
	if p.Who == "" {
		p.Who = "Submission"
	}
	if r.LastError != nil {
		p.Category, p.Help = Category(r.LastError.Category), categoryHelp[r.LastError.Category]
	}
	known := map[string]bool{}
	if p.Form != nil {
		for _, fd := range p.Form.Fields {
			known[fd.Name] = true
			p.Fields = append(p.Fields, fieldRow{Name: fd.Name, Label: fd.Label, Column: fd.Column, Value: r.Fields[fd.Name],
				Bool: fd.Type == "bool", Multiline: fd.Multiline()})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(r.Fields)) {
		if !known[k] {
			p.Extra = append(p.Extra, fieldRow{Name: k, Label: k, Value: r.Fields[k]})
		}
	}
	if r.Payload != nil {
		p.Payload = r.Payload.Body
		var buf bytes.Buffer
		if json.Indent(&buf, []byte(r.Payload.Body), "", "  ") == nil {
			p.Payload = buf.String()
		}
	}
	return p, nil
}

// ---- Audit log ----

type auditPage struct {
	adminPage
	Entries []audit.Entry
	Next    string
}

// adminAudit is GET /admin/audit.
func (s *server) adminAudit(c echo.Context) error {
	before := c.QueryParam("before")
	if len(before) > 50 {
		return echo.NewHTTPError(http.StatusBadRequest, "That page link is not valid.")
	}
	entries, next, err := s.auditLog.List(c.Request().Context(), before, 50)
	if err != nil {
		if strings.Contains(err.Error(), "invalid cursor") {
			return echo.NewHTTPError(http.StatusBadRequest, "That page link is not valid.")
		}
		return adminErr(err)
	}
	p := auditPage{adminPage: s.newAdminPage(c, "Audit log", "audit"), Entries: entries}
	if next != "" {
		p.Next = "/admin/audit?before=" + url.QueryEscape(next)
	}
	return s.renderAdmin(c, http.StatusOK, "audit.html", p)
}
