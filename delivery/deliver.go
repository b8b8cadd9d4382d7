// Package delivery writes one submission into Dataverse exactly once: it
// takes the per-identity leases, finds the open lead (and contact) the
// submission belongs to, creates or updates it according to the form's
// rules, and explains in words why it chose what it chose.
package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/leadbridge/leadbridge/crm"
	"github.com/leadbridge/leadbridge/forms"
	"github.com/leadbridge/leadbridge/lease"
	"github.com/leadbridge/leadbridge/submission"
)

// Deliverer delivers submissions. It is safe for concurrent use.
type Deliverer struct {
	CRM   *crm.Client
	Forms forms.Set
	Locks *lease.Locker
	// Redis keeps the owner routing's round-robin turns, shared by every
	// worker (mapping.go); only forms with round_robin need it.
	Redis redis.UniversalClient
	// Log receives warnings about the form's mapping (a disabled user
	// skipped in a round robin); nil = none.
	Log *slog.Logger

	cacheOnce sync.Once
	cache     *idCache // owners, campaigns, accounts and lookup rows by key (mapping.go)
}

// Result is what a delivery did.
type Result struct {
	LeadID    string
	ContactID string
	Action    string              // created | updated
	Match     string              // why, in words
	Changes   []submission.Change // what an update changed on the lead, before → after
}

// ErrUnknownForm: the submission names a form the worker does not have —
// the API and worker run different configurations.
var ErrUnknownForm = errors.New("delivery: form not configured on this worker")

// Deliver writes rec into Dataverse. Every CRM call runs under the leases
// of the identities involved, so that concurrent submissions for one person
// are serialized across all workers; if a lease is lost the calls are
// cancelled and the error is retried later.
func (d *Deliverer) Deliver(ctx context.Context, rec *submission.Record) (Result, error) {
	f, ok := d.Forms[rec.Form]
	if !ok {
		return Result{}, fmt.Errorf("%w: %q", ErrUnknownForm, rec.Form)
	}
	p := d.plan(f, rec)
	keys := p.lockKeys(rec.ID)
	held := make([]*lease.Lease, 0, len(keys))
	defer func() {
		for _, l := range held {
			_ = l.Release(context.WithoutCancel(ctx))
		}
	}()
	lctx := ctx
	for _, k := range keys {
		l, err := d.Locks.Acquire(lctx, k)
		if err != nil {
			return Result{}, fmt.Errorf("delivery: lease on %s: %w", keyKind(k), err)
		}
		held = append(held, l)
		lctx = l.Context() // lost lease → everything after it is cancelled
	}
	return d.deliverMapped(lctx, f, rec, p)
}

// plan turns the submission into the row's columns, with the keys of what
// it creates.
func (d *Deliverer) plan(f *forms.Form, rec *submission.Record) *leadPlan {
	p := plan(f, rec.Fields)
	p.leadID, p.contactID = leadID(rec.ID), contactID(rec.ID)
	p.retry = rec.AttemptCount > 0
	return p
}

func (d *Deliverer) deliver(ctx context.Context, f *forms.Form, p *leadPlan) (Result, error) {
	var res Result
	if p.retry && !p.upserts(f) {
		// An earlier attempt may have created the lead and lost the answer.
		// Look for it by its key first: found by a match query it would be
		// taken for someone else's lead (and reported "updated"), and a
		// closed one or create_new would not find it at all. First attempts
		// skip this request; the lead is then the last write of a delivery.
		if own, found, err := d.ownRow(ctx, f, p); err != nil || found {
			return own, err
		}
	}
	if f.Contact == forms.ContactLink && p.email != "" {
		id, why, err := d.linkContact(ctx, p)
		if err != nil {
			return res, err
		}
		res.ContactID = id
		p.contactWhy = why
	}
	if res.ContactID != "" {
		p.lead["parentcontactid@odata.bind"] = crm.ContactRef(res.ContactID)
	}

	if p.upserts(f) {
		return d.upsert(ctx, f, p, str(p.lead[f.AlternateKey]), res)
	}

	m, err := d.findLeads(ctx, f, p)
	if err != nil {
		return res, err
	}
	for _, row := range m.rows {
		if strings.EqualFold(str(row["leadid"]), p.leadID) {
			// A worker died after creating it, before recording it.
			return ownLead(row, "matched on "+m.rule), nil
		}
	}
	if len(m.rows) == 0 || f.OnMatch == forms.OnMatchCreateNew {
		_, err := d.CRM.CreateLead(ctx, p.leadID, crm.Row(p.lead))
		if errors.Is(err, crm.ErrExists) {
			// An earlier attempt's create landed (its answer was lost, or
			// its worker died) and no query found it.
			row, err := d.CRM.GetLead(ctx, p.leadID, "_parentcontactid_value")
			if err != nil {
				return res, err
			}
			return ownLead(row, "its create was refused: the key exists"), nil
		}
		if err != nil {
			return res, err
		}
		res.LeadID = p.leadID
		res.Action = "created"
		switch {
		case m.rule == "":
			res.Match = fmt.Sprintf("no match key could be used (%s); created a new lead", strings.Join(m.skipped, "; "))
		case len(m.rows) == 0:
			res.Match = m.because(fmt.Sprintf("no open lead matched on %s (filter: %s); created a new lead", m.rule, m.filter))
		default:
			res.Match = m.because(fmt.Sprintf("open leads %s matched on %s (filter: %s) but on_match is create_new; created a new lead", strings.Join(ids(m.rows), ", "), m.rule, m.filter))
		}
		res.Match = p.withContact(res.Match)
		return res, nil
	}

	chosen := m.rows[0]
	id, _ := chosen["leadid"].(string)
	changes := p.changes(chosen, f.OnMatch)
	if len(changes) > 0 {
		if err := d.CRM.UpdateLead(ctx, id, changes); err != nil {
			return res, err
		}
	}
	res.LeadID, res.Action = id, "updated"
	res.Changes = changeList(chosen, changes)
	why := fmt.Sprintf("matched on %s (filter: %s); candidates %s; chose %s, the oldest open lead; %s",
		m.rule, m.filter, strings.Join(ids(m.rows), ", "), id, describeChanges(f.OnMatch, changes))
	if bound := str(chosen["_parentcontactid_value"]); bound != "" && res.ContactID != "" && !strings.EqualFold(bound, res.ContactID) {
		p.keptContact = bound
	}
	res.Match = p.withContact(m.because(why))
	return res, nil
}

// ownLead finishes a delivery whose lead an earlier attempt created — the
// row with this submission's own key — and reports it as created, as that
// attempt would have. The lead is left as it is: it holds this submission
// already, and anything else in it is a CRM user's work since.
func ownLead(row crm.Row, how string) Result {
	res := Result{LeadID: str(row["leadid"]), Action: "created", ContactID: str(row["_parentcontactid_value"])}
	res.Match = fmt.Sprintf("lead %s was created by an earlier attempt of this submission that could not record it (%s)", res.LeadID, how)
	if res.ContactID != "" {
		res.Match += "; linked to contact " + res.ContactID
	}
	return res
}

// upsert writes the lead with one PATCH by the form's alternate key: it
// creates the keyed lead or overwrites it. What says who the lead is
// besides the key (the other columns the match rules compare, the contact
// binding) may only be filled where empty, which one upsert cannot do: they
// are left out of it, read back from its answer, and set by a second PATCH
// only where the lead has none.
func (d *Deliverer) upsert(ctx context.Context, f *forms.Form, p *leadPlan, key string, res Result) (Result, error) {
	body := crm.Row(maps.Clone(p.lead))
	delete(body, f.AlternateKey) // key values go in the URL only
	var guarded, sel []string
	for c := range body {
		switch {
		case c == "parentcontactid@odata.bind":
			guarded, sel = append(guarded, c), append(sel, "_parentcontactid_value")
		case p.identity[c]:
			guarded, sel = append(guarded, c), append(sel, c)
		}
	}
	sort.Strings(guarded)
	sort.Strings(sel)
	for _, c := range guarded {
		delete(body, c)
	}
	row, created, err := d.CRM.UpsertLead(ctx, f.AlternateKey, key, body, sel...)
	if err != nil {
		return res, err
	}
	res.LeadID, res.Action = str(row["leadid"]), actionOf(created)
	res.Match = fmt.Sprintf("upserted by alternate key %s = %s (%s)", f.AlternateKey, crm.Quote(key), res.Action)
	fill := crm.Row{}
	for _, c := range guarded {
		read := c
		if c == "parentcontactid@odata.bind" {
			read = "_parentcontactid_value"
		}
		if str(row[read]) == "" {
			fill[c] = p.lead[c]
		}
	}
	if len(fill) > 0 {
		if err := d.CRM.UpdateLead(ctx, res.LeadID, fill); err != nil {
			return res, err
		}
		res.Match += "; " + describeChanges("then where empty", fill)
	}
	if bound := str(row["_parentcontactid_value"]); bound != "" && res.ContactID != "" && !strings.EqualFold(bound, res.ContactID) {
		p.keptContact = bound
	}
	res.Match = p.withContact(res.Match)
	return res, nil
}

func actionOf(created bool) string {
	if created {
		return "created"
	}
	return "updated"
}

// leadMatch is what the form's match rules found.
type leadMatch struct {
	rule    string     // the rule that was used; "" if none could be
	filter  crm.Filter // its query
	rows    []crm.Row  // the open leads it matched, oldest first
	skipped []string   // why earlier rules were not used, in words
}

// because puts the reasons for skipped rules before an explanation.
func (m leadMatch) because(why string) string {
	if len(m.skipped) == 0 {
		return why
	}
	return strings.Join(m.skipped, "; ") + "; " + why
}

// findLeads tries the form's match rules in order and returns the open
// leads of the first rule that can be used, oldest first.
func (d *Deliverer) findLeads(ctx context.Context, f *forms.Form, p *leadPlan) (leadMatch, error) {
	var m leadMatch
	for _, r := range f.Match {
		flt, check, skip := p.matchFilter(r)
		if skip != "" {
			m.skipped = append(m.skipped, r+" not used: "+skip)
			continue
		}
		q := crm.Query{
			Select:  p.selectColumns(),
			Filter:  crm.And(flt, crm.EqInt("statecode", 0)),
			OrderBy: "createdon asc",
			Top:     50,
		}
		m.rule, m.filter = r, q.Filter
		rows, err := d.CRM.FindLeads(ctx, q)
		if err != nil {
			return m, err
		}
		m.rows = slices.DeleteFunc(rows, func(row crm.Row) bool { return check != nil && !check(row) })
		return m, nil
	}
	return m, nil
}

// linkContact finds the open contact with the submission's email or creates
// one, and returns its id.
func (d *Deliverer) linkContact(ctx context.Context, p *leadPlan) (string, string, error) {
	flt := crm.And(crm.Eq(p.contactCol, p.email), crm.EqInt("statecode", 0))
	rows, err := d.CRM.FindContacts(ctx, crm.Query{Select: []string{"contactid"}, Filter: flt, OrderBy: "createdon asc", Top: 10})
	if err != nil {
		return "", "", err
	}
	for _, row := range rows {
		if id := str(row["contactid"]); strings.EqualFold(id, p.contactID) {
			return id, "new contact " + id + " (created by an earlier attempt)", nil
		}
	}
	if len(rows) > 0 {
		id, _ := rows[0]["contactid"].(string)
		return id, "existing contact " + id, nil
	}
	_, err = d.CRM.CreateContact(ctx, p.contactID, crm.Row(p.contact))
	switch {
	case errors.Is(err, crm.ErrExists):
		// An earlier attempt created it; the query above did not find it
		// (closed since, or the submission's email was edited).
		return p.contactID, "new contact " + p.contactID + " (created by an earlier attempt)", nil
	case err != nil:
		return "", "", err
	}
	return p.contactID, "new contact " + p.contactID, nil
}

// leadPlan is a submission turned into Dataverse columns.
type leadPlan struct {
	lead        map[string]any
	contact     map[string]any
	email       string          // the form's email field, lower-cased; "" if none
	emailCol    string          // the lead column it is written to
	contactCol  string          // the contact column the contact is found by
	phoneCol    string          // the lead column of the form's phone field; "" if none
	companyCol  string          // the lead column of the form's company field; "" if none
	identity    map[string]bool // columns that say who a lead is: never overwritten
	values      map[string]string
	leadID      string // the keys of the lead and contact this submission creates
	contactID   string
	retry       bool   // an earlier attempt was recorded: it may have written
	contactWhy  string // "new contact <id>" or "existing contact <id>"
	keptContact string // the contact a matched lead keeps instead of the submission's
}

// contactColumns are the lead columns that also exist on contact.
var contactColumns = []string{
	"firstname", "middlename", "lastname", "emailaddress1", "emailaddress2", "emailaddress3",
	"telephone1", "telephone2", "telephone3", "mobilephone", "jobtitle", "donotbulkemail", "donotemail", "donotphone",
}

func plan(f *forms.Form, values map[string]string) *leadPlan {
	p := &leadPlan{lead: map[string]any{}, contact: map[string]any{}, identity: map[string]bool{}, values: values}
	for _, c := range f.IdentityColumns() {
		p.identity[c] = true
	}
	for _, fd := range f.Fields {
		for c, v := range fd.RowValues(values[fd.Name]) {
			p.lead[c] = v
		}
	}
	if fd, ok := f.IdentityField(forms.RoleEmail); ok {
		p.emailCol = fd.Column
		p.email = strings.ToLower(values[fd.Name])
	}
	if fd, ok := f.IdentityField(forms.RolePhone); ok {
		p.phoneCol = fd.Column
	}
	if fd, ok := f.IdentityField(forms.RoleCompany); ok {
		p.companyCol = fd.Column
	}
	if !f.IsLead() {
		return p // another table: its fields' columns only
	}
	p.lead["subject"] = f.RenderSubject(values)
	if _, chosen := p.lead["leadsourcecode"]; f.LeadSource != 0 && !chosen {
		p.lead["leadsourcecode"] = f.LeadSource // a field the person chose it with wins
	}
	for _, c := range contactColumns {
		if v, ok := p.lead[c]; ok {
			p.contact[c] = v
		}
	}
	// The contact is found by the same email column as the lead, if contact
	// has it; an email in a custom lead column goes to emailaddress1.
	p.contactCol = "emailaddress1"
	if slices.Contains(contactColumns, p.emailCol) {
		p.contactCol = p.emailCol
	}
	if p.email != "" {
		p.contact[p.contactCol] = p.email
	}
	if _, ok := p.contact["lastname"]; !ok && len(p.contact) > 0 {
		// lastname is ApplicationRequired on contact; fall back to the email,
		// cut to the column's 50 (an email may have 100).
		p.contact["lastname"] = forms.CutUTF16(p.email, 50)
	}
	return p
}

// upserts reports whether the lead is written by one upsert by the form's
// alternate key: the form has one and the submission a value for it. That
// write is idempotent by itself — a retried PATCH addresses the same key and
// finds the row its lost twin wrote (it then reports "updated") — so it
// needs no key of its own.
func (p *leadPlan) upserts(f *forms.Form) bool {
	return f.AlternateKey != "" && str(p.lead[f.AlternateKey]) != ""
}

// lockKeys are the identities this submission touches, sorted so that every
// worker takes them in the same order and two never deadlock.
func (p *leadPlan) lockKeys(submissionID string) []string {
	var keys []string
	if p.email != "" {
		keys = append(keys, "lead:email:"+p.email, "contact:email:"+p.email)
	}
	if ph := digits(str(p.lead[p.phoneCol])); p.phoneCol != "" && len(ph) >= minPhoneDigits {
		keys = append(keys, "lead:phone:"+phoneKey(ph))
	}
	if len(keys) == 0 {
		keys = append(keys, "submission:"+submissionID)
	}
	sort.Strings(keys)
	return keys
}

// matchFilter returns the $filter for one match rule and a check to run on
// each returned row where Dataverse cannot compare exactly (phone digits) —
// or, when the submission has no usable value for the rule, why not.
func (p *leadPlan) matchFilter(rule string) (flt crm.Filter, check func(crm.Row) bool, skip string) {
	switch rule {
	case forms.MatchEmail:
		if p.email == "" {
			return "", nil, "no value"
		}
		return crm.Eq(p.emailCol, p.email), nil, ""
	case forms.MatchEmailCompany:
		company := str(p.lead[p.companyCol])
		switch {
		case p.email == "":
			return "", nil, "no email"
		case company == "":
			return "", nil, "no company"
		}
		return crm.And(crm.Eq(p.emailCol, p.email), crm.Eq(p.companyCol, company)), nil, ""
	case forms.MatchPhone:
		col := p.phoneCol
		want := digits(str(p.lead[col]))
		switch {
		case want == "":
			return "", nil, "no value"
		case len(want) < minPhoneDigits:
			// A local number without its area code is shared by many
			// people: matching on it merges strangers.
			return "", nil, fmt.Sprintf("%d digits, fewer than the %d of a whole number", len(want), minPhoneDigits)
		}
		// Stored numbers carry spaces, dashes and brackets. Dataverse honours
		// SQL wildcards inside contains(), so find the last ten digits with
		// anything between them, then compare the whole numbers here.
		pattern := strings.Join(strings.Split(phoneKey(want), ""), "%")
		check := func(row crm.Row) bool { return samePhone(digits(str(row[col])), want) }
		return crm.Filter(fmt.Sprintf("contains(%s,%s)", col, crm.Quote(pattern))), check, ""
	}
	return "", nil, "unknown rule"
}

// selectColumns are the lead columns read back for a match: the mapped ones
// (to fill what is empty) and the contact binding.
func (p *leadPlan) selectColumns() []string {
	cols := []string{"leadid", "createdon", "_parentcontactid_value"}
	for c := range p.lead {
		nav, bind := strings.CutSuffix(c, "@odata.bind")
		switch {
		case !strings.Contains(c, "@"):
			cols = append(cols, c)
		case bind && nav != "parentcontactid" && !slices.Contains(cols, lookupColumn(nav)):
			cols = append(cols, lookupColumn(nav))
		}
	}
	sort.Strings(cols[3:])
	return cols
}

// changes returns the columns to PATCH on an existing lead. fill_empty sets
// only columns that are empty in the CRM; overwrite sets every submitted
// column but keeps the lead's original topic and source.
//
// Neither ever changes what says who the lead is — the columns the form's
// match rules compare, and the contact it is bound to — except to fill them
// when empty: anyone can post a form, and a stranger giving someone's phone
// with their own email must not make that lead theirs.
func (p *leadPlan) changes(existing crm.Row, onMatch string) crm.Row {
	out := crm.Row{}
	for c, v := range p.lead {
		if nav, ok := strings.CutSuffix(c, "@odata.bind"); ok {
			// A lookup the lead has (its contact, owner, campaign, account)
			// is never replaced; an empty one is filled.
			if str(existing[lookupColumn(nav)]) == "" {
				out[c] = v
			}
			continue
		}
		if _, isBool := v.(bool); isBool && onMatch == forms.OnMatchFillEmpty {
			continue // a boolean is never "empty" in Dataverse: leave consent as the CRM has it
		}
		empty := existing[c] == nil || existing[c] == ""
		keep := c == "subject" || c == "leadsourcecode" || p.identity[c]
		if empty || (onMatch == forms.OnMatchOverwrite && !keep && existing[c] != v) {
			out[c] = v
		}
	}
	return out
}

// withContact adds what became of the contact to an explanation.
func (p *leadPlan) withContact(s string) string {
	switch {
	case p.contactWhy == "":
		return s
	case p.keptContact != "":
		return fmt.Sprintf("%s; %s for the submission's email is not bound: the lead keeps its contact %s (a matched lead's contact is never replaced)",
			s, p.contactWhy, p.keptContact)
	}
	return s + "; linked to " + p.contactWhy
}

// changeList is what a PATCH of changes did to the existing row, column by
// column in name order, for the admin console's before → after.
func changeList(existing crm.Row, changes crm.Row) []submission.Change {
	out := make([]submission.Change, 0, len(changes))
	for c, v := range changes {
		col, before := c, existing[c]
		if nav, ok := strings.CutSuffix(c, "@odata.bind"); ok {
			col, before = nav, existing[lookupColumn(nav)]
		}
		out = append(out, submission.Change{Column: col, Before: before, After: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Column < out[j].Column })
	return out
}

func describeChanges(onMatch string, changes crm.Row) string {
	if len(changes) == 0 {
		return onMatch + ": nothing to change"
	}
	cols := make([]string, 0, len(changes))
	for c := range changes {
		cols = append(cols, strings.TrimSuffix(c, "@odata.bind"))
	}
	sort.Strings(cols)
	return onMatch + ": set " + strings.Join(cols, ", ")
}

// lookupColumn is the column a navigation property's value is read from:
// _<nav>_value, or for the two sides of the lead's Customer lookup,
// _customerid_value.
func lookupColumn(nav string) string {
	switch nav {
	case "customerid_account", "customerid_contact":
		return "_customerid_value"
	}
	return "_" + nav + "_value"
}

func ids(rows []crm.Row) []string {
	out := make([]string, 0, len(rows))
	for _, r := range rows {
		out = append(out, str(r["leadid"]))
	}
	return out
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

var nonDigits = regexp.MustCompile(`\D`)

func digits(s string) string { return nonDigits.ReplaceAllString(s, "") }

// minPhoneDigits is the length of a whole national number with its area
// code in most numbering plans (NANP and much of Europe and Asia have ten).
// Fewer digits are a local number, which many people share.
const minPhoneDigits = 10

// phoneKey is the identity of a phone number for locking and for the query:
// its last ten digits, the national number, which stay the same whether a
// country code is written or left out.
func phoneKey(d string) string { return d[len(d)-minPhoneDigits:] }

// samePhone: two whole numbers with equal digits, or equal but for a
// country code (one to three digits) written before one of them only.
func samePhone(a, b string) bool {
	if len(a) < minPhoneDigits || len(b) < minPhoneDigits {
		return false
	}
	if len(a) < len(b) {
		a, b = b, a
	}
	return len(a)-len(b) <= 3 && strings.HasSuffix(a, b)
}
