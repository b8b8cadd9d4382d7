package delivery

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/leadbridge/leadbridge/crm"
	"github.com/leadbridge/leadbridge/forms"
	"github.com/leadbridge/leadbridge/lease"
)

// batchTimeout bounds one batch, under the task timeout of the tasks
// waiting for it (queue.TaskTimeout, 5 minutes).
const batchTimeout = 4 * time.Minute

// maxInRows bounds what one In() query may return; a batch whose query
// fills it fails (its submissions are retried, and may meet smaller
// batches) rather than decide on a partial answer.
const maxInRows = 5000

// maxInBytes bounds the values of one In() query. Dataverse takes URLs of
// up to 32 KB; percent-encoded, a value takes up to three times its length.
const maxInBytes = 8 << 10

// chunks splits values into runs short enough for one query each.
func chunks(values []string) [][]string {
	var out [][]string
	start, size := 0, 0
	for i, v := range values {
		if size+len(v)+3 > maxInBytes && i > start {
			out = append(out, values[start:i])
			start, size = i, 0
		}
		size += len(v) + 3
	}
	if start < len(values) {
		out = append(out, values[start:])
	}
	return out
}

// member is one submission of a batch.
type member struct {
	*pending
	p     *leadPlan
	out   *outcome
	done  bool
	alone bool // a lease is held elsewhere: left to a later batch, or the one-at-a-time path
	rule  string
	m     leadMatch
	// what the batch decided
	unit *unit
	why  string
}

// unit is one lead the batch writes: created for one or more members, or
// updated for them.
type unit struct {
	members  []*member
	create   bool
	leadID   string
	row      crm.Row // the create's columns, or the update's changes
	existing crm.Row // the matched lead, for an update
	contact  *newContact
	err      error
	exists   bool // the create was refused: the key exists
}

// newContact is a contact the batch creates.
type newContact struct {
	id  string
	row crm.Row
	err error
}

// deliverBatch delivers items together and hands each its own outcome.
func (b *Batcher) deliverBatch(f *forms.Form, items []*pending) {
	ctx, cancel := context.WithTimeoutCause(context.Background(), batchTimeout, errors.New("delivery: batch took too long"))
	defer cancel()
	// The batch's calls carry one GUID of their own; each member logs it
	// beside its own request id, which leads from a submission to them.
	requestID := uuid.NewString()
	ctx = crm.WithRequestID(ctx, requestID)
	ms := make([]*member, len(items))
	for i, it := range items {
		ms[i] = &member{pending: it, p: b.D.plan(f, it.rec), out: &outcome{}}
	}
	lctx, release := b.leases(ctx, ms)
	defer release()
	for _, m := range ms {
		if m.alone {
			b.later(f, m.pending)
		}
	}
	started := time.Now()
	b.run(lctx, f, ms)
	alone, failed := 0, 0
	for _, m := range ms {
		switch {
		case m.alone:
			alone++
		case m.out.err != nil:
			failed++
		}
		if !m.alone {
			o := *m.out
			o.requestID = requestID
			m.pending.done <- o
		}
	}
	b.Log.Debug("batch delivered", "dataverse_request_id", requestID, "form", f.ID, "submissions", len(ms), "one_at_a_time", alone, "failed", failed,
		"seconds", time.Since(started).Seconds())
}

// maxDeferrals is how often a submission whose person's lease is held
// elsewhere goes back to the end of the queue for a later batch before it
// is delivered one at a time, waiting for the lease.
const maxDeferrals = 5

// later puts p back in its form's queue after a pause (a second, then
// two, …): the holder of its person's lease — often a batch of this worker
// with an earlier submission of the same person — is likely done by then,
// and p is written in a batch instead of with a request or three of its
// own. After maxDeferrals it takes the one-at-a-time path, which waits for
// the lease.
func (b *Batcher) later(f *forms.Form, p *pending) {
	p.deferrals++
	if p.deferrals > maxDeferrals {
		go func() {
			res, err := b.D.Deliver(p.ctx, p.rec)
			p.done <- outcome{res: res, err: err}
		}()
		return
	}
	time.AfterFunc(time.Duration(p.deferrals)*time.Second, func() { b.enqueue(f, p) })
}

// leases takes the leases of every member's identities without waiting;
// a member one of whose leases is held elsewhere is marked alone. The
// returned context ends when any lease is lost.
func (b *Batcher) leases(ctx context.Context, ms []*member) (context.Context, func()) {
	lctx, cancel := context.WithCancelCause(ctx)
	held := map[string]*lease.Lease{}
	var stops []func() bool
	release := func() {
		for _, s := range stops {
			s()
		}
		for _, l := range held {
			_ = l.Release(context.WithoutCancel(ctx))
		}
		cancel(nil)
	}
	for _, m := range ms {
		var mine []string
		for _, k := range m.p.lockKeys(m.rec.ID) {
			if _, ok := held[k]; ok {
				continue
			}
			l, ok, err := b.D.Locks.TryAcquire(ctx, k)
			if err != nil {
				m.out.err = fmt.Errorf("delivery: lease on %s: %w", keyKind(k), err)
				m.done = true
				break
			}
			if !ok {
				m.alone = true
				break
			}
			held[k] = l
			mine = append(mine, k)
			stops = append(stops, context.AfterFunc(l.Context(), func() {
				if errors.Is(context.Cause(l.Context()), lease.ErrLost) {
					cancel(fmt.Errorf("delivery: lease on %s: %w", keyKind(k), lease.ErrLost))
				}
			}))
		}
		if m.alone || m.done {
			for _, k := range mine {
				_ = held[k].Release(context.WithoutCancel(ctx))
				delete(held, k)
			}
		}
	}
	return lctx, release
}

// keyKind is the kind of a lease key ("lead:email"), never its value: the
// value is the person's email or phone, and lease errors are logged and
// stored.
func keyKind(k string) string {
	if parts := strings.SplitN(k, ":", 3); len(parts) == 3 {
		return parts[0] + ":" + parts[1]
	}
	kind, _, _ := strings.Cut(k, ":")
	return kind
}

// active are the members the batch still has to decide.
func active(ms []*member) []*member {
	var out []*member
	for _, m := range ms {
		if !m.done && !m.alone {
			out = append(out, m)
		}
	}
	return out
}

// failAll ends every active member with err.
func failAll(ms []*member, err error) {
	for _, m := range active(ms) {
		m.out.err, m.done = err, true
	}
}

// run decides and writes the batch.
func (b *Batcher) run(ctx context.Context, f *forms.Form, ms []*member) {
	if err := b.ownLeads(ctx, ms); err != nil {
		failAll(ms, err)
		return
	}
	contacts := map[string]*newContact{} // by email
	if f.Contact == forms.ContactLink {
		if err := b.contacts(ctx, ms, contacts); err != nil {
			failAll(ms, err)
			return
		}
	}
	if err := b.matches(ctx, f, ms); err != nil {
		failAll(ms, err)
		return
	}
	units := decide(f, ms, contacts)
	b.write(ctx, units, contacts)
	for _, u := range units {
		b.finish(ctx, f, u)
	}
}

// ownLeads: a retry first looks for the lead an earlier attempt may have
// created and lost the answer of, by its key — all retries of the batch in
// one query.
func (b *Batcher) ownLeads(ctx context.Context, ms []*member) error {
	var ids []string
	byID := map[string]*member{}
	for _, m := range active(ms) {
		if m.p.retry {
			ids = append(ids, m.p.leadID)
			byID[m.p.leadID] = m
		}
	}
	if len(ids) == 0 {
		return nil
	}
	var rows []crm.Row
	for _, part := range chunks(ids) {
		got, err := b.find(ctx, "leads", crm.Query{Select: []string{"leadid", "_parentcontactid_value"}, Filter: crm.In("leadid", part), Top: len(part)})
		if err != nil {
			return err
		}
		rows = append(rows, got...)
	}
	for _, row := range rows {
		if m := byID[strings.ToLower(str(row["leadid"]))]; m != nil {
			*m.out, m.done = outcome{res: ownLead(row, "found by its key on this retry")}, true
		}
	}
	return nil
}

// find runs one query within the execution-time budget, like a write of
// one row (Dataverse charges a query's time too: a query sent when the
// writes have spent the budget is refused, and a refusal stops every call
// of this user until its Retry-After), and tells the governor what the
// answer said.
func (b *Batcher) find(ctx context.Context, set string, q crm.Query) ([]crm.Row, error) {
	done, err := b.gov.reserve(ctx, 1)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	var rows []crm.Row
	var bud crm.Budget
	if set == "contacts" {
		rows, bud, err = b.D.CRM.FindContactsBudget(ctx, q)
	} else {
		rows, bud, err = b.D.CRM.FindLeadsBudget(ctx, q)
	}
	done(start, bud, false) // counted, but a query's time says nothing of a row's
	return rows, err
}

// openByEmail finds the open rows of set whose col holds one of emails,
// in as few In() queries as the URL limit allows, and groups them by
// email in lower case, oldest first.
func (b *Batcher) openByEmail(ctx context.Context, set string, sel []string, col string, emails []string) (map[string][]crm.Row, error) {
	out := map[string][]crm.Row{}
	for _, part := range chunks(emails) {
		got, err := b.find(ctx, set, crm.Query{
			Select: sel, Filter: crm.And(crm.In(col, part), crm.EqInt("statecode", 0)),
			OrderBy: "createdon asc", Top: maxInRows,
		})
		if err != nil {
			return nil, err
		}
		if len(got) >= maxInRows {
			return nil, fmt.Errorf("delivery: a %s query of a batch returned %d rows or more", set, maxInRows)
		}
		for _, row := range got {
			e := strings.ToLower(str(row[col]))
			out[e] = append(out[e], row)
		}
	}
	return out, nil
}

// contacts finds the open contact of every member with an email in one
// query, and plans one new contact per email that has none.
func (b *Batcher) contacts(ctx context.Context, ms []*member, out map[string]*newContact) error {
	var emails []string
	seen := map[string]bool{}
	col := ""
	for _, m := range active(ms) {
		if m.p.email != "" && !seen[m.p.email] {
			seen[m.p.email] = true
			emails = append(emails, m.p.email)
			col = m.p.contactCol
		}
	}
	if len(emails) == 0 {
		return nil
	}
	found, err := b.openByEmail(ctx, "contacts", []string{"contactid", col}, col, emails)
	if err != nil {
		return err
	}
	for _, m := range active(ms) {
		if m.p.email == "" {
			continue
		}
		var ids []string
		for _, row := range found[m.p.email] {
			ids = append(ids, str(row["contactid"]))
		}
		own := ""
		for _, id := range ids {
			if strings.EqualFold(id, m.p.contactID) {
				own = id
			}
		}
		switch {
		case own != "":
			m.p.contactWhy = "new contact " + own + " (created by an earlier attempt)"
			m.p.lead["parentcontactid@odata.bind"] = crm.ContactRef(own)
		case len(ids) > 0:
			m.p.contactWhy = "existing contact " + ids[0]
			m.p.lead["parentcontactid@odata.bind"] = crm.ContactRef(ids[0])
		default:
			nc := out[m.p.email]
			if nc == nil {
				nc = &newContact{id: m.p.contactID, row: crm.Row(m.p.contact)}
				nc.row["contactid"] = nc.id
				out[m.p.email] = nc
				m.p.contactWhy = "new contact " + nc.id
			} else {
				m.p.contactWhy = "new contact " + nc.id + " (created in this batch for another submission of this person)"
			}
			m.p.lead["parentcontactid@odata.bind"] = crm.ContactRef(nc.id)
		}
	}
	return nil
}

// matches runs one In() query per match rule for the members that use it
// and leaves each member's open leads, oldest first, in m.m.
func (b *Batcher) matches(ctx context.Context, f *forms.Form, ms []*member) error {
	byRule := map[string][]*member{}
	for _, m := range active(ms) {
		for _, r := range f.Match {
			_, _, skip := m.p.matchFilter(r)
			if skip != "" {
				m.m.skipped = append(m.m.skipped, r+" not used: "+skip)
				continue
			}
			m.rule = r
			byRule[r] = append(byRule[r], m)
			break
		}
	}
	for _, r := range f.Match {
		group := byRule[r]
		if len(group) == 0 {
			continue
		}
		col := group[0].p.emailCol
		var emails []string
		seen := map[string]bool{}
		selSet := map[string]bool{}
		for _, m := range group {
			if !seen[m.p.email] {
				seen[m.p.email] = true
				emails = append(emails, m.p.email)
			}
			for _, c := range m.p.selectColumns() {
				selSet[c] = true
			}
		}
		byEmail, err := b.openByEmail(ctx, "leads", slices.Sorted(maps.Keys(selSet)), col, emails)
		if err != nil {
			return err
		}
		for _, m := range group {
			flt, _, _ := m.p.matchFilter(r)
			m.m.rule, m.m.filter = r, crm.And(flt, crm.EqInt("statecode", 0))
			for _, row := range byEmail[m.p.email] {
				if r == forms.MatchEmailCompany && !strings.EqualFold(str(row[m.p.companyCol]), str(m.p.lead[m.p.companyCol])) {
					continue
				}
				m.m.rows = append(m.m.rows, row)
			}
		}
	}
	return nil
}

// identity is what makes two members of a batch the same person for the
// form's match rules: the rule and its values.
func (m *member) identity() string {
	switch m.rule {
	case forms.MatchEmail:
		return "email\x00" + m.p.email
	case forms.MatchEmailCompany:
		return "email+company\x00" + m.p.email + "\x00" + strings.ToLower(str(m.p.lead[m.p.companyCol]))
	}
	return ""
}

// decide turns members into units: a member whose own lead exists is done;
// members of one person share one unit (one create, or one update of the
// lead they matched), except under create_new.
func decide(f *forms.Form, ms []*member, contacts map[string]*newContact) []*unit {
	var units []*unit
	byPerson := map[string]*unit{}
	for _, m := range active(ms) {
		own := false
		for _, row := range m.m.rows {
			if strings.EqualFold(str(row["leadid"]), m.p.leadID) {
				// A worker died after creating it, before recording it.
				*m.out, m.done, own = outcome{res: ownLead(row, "matched on "+m.m.rule)}, true, true
			}
		}
		if own {
			continue
		}
		key := m.identity()
		if f.OnMatch == forms.OnMatchCreateNew || key == "" {
			key = "alone\x00" + m.rec.ID
		}
		u := byPerson[key]
		create := len(m.m.rows) == 0 || f.OnMatch == forms.OnMatchCreateNew
		if u == nil {
			u = &unit{create: create}
			if create {
				u.leadID = m.p.leadID
				u.row = maps.Clone(crm.Row(m.p.lead))
				u.row["leadid"] = u.leadID
			} else {
				u.existing = maps.Clone(m.m.rows[0])
				u.leadID = str(u.existing["leadid"])
				u.row = crm.Row{}
			}
			if m.p.email != "" {
				u.contact = contacts[m.p.email]
			}
			byPerson[key] = u
			units = append(units, u)
			u.members = append(u.members, m)
			if !create {
				m.why = u.applyChanges(m, f.OnMatch)
			}
			continue
		}
		// Another submission of the same person in this batch.
		u.members = append(u.members, m)
		m.why = u.applyChanges(m, f.OnMatch)
	}
	return units
}

// applyChanges adds what member m changes to the unit's lead, as if m came
// right after the members before it: the single path's changes against the
// lead as the earlier members left it. It returns those changes in words.
func (u *unit) applyChanges(m *member, onMatch string) string {
	current := u.existing
	if u.create {
		current = u.row
	}
	changes := m.p.changes(current, onMatch)
	if u.create {
		delete(changes, "parentcontactid@odata.bind") // the first member's binding stands
	}
	m.out.res.Changes = changeList(current, changes)
	for c, v := range changes {
		if u.create {
			u.row[c] = v
			continue
		}
		u.row[c] = v
		if c == "parentcontactid@odata.bind" {
			u.existing["_parentcontactid_value"] = boundContact(v)
		} else {
			u.existing[c] = v
		}
	}
	return describeChanges(onMatch, changes)
}

// updateRow is the unit's update as a row that names its lead.
func (u *unit) updateRow() crm.Row {
	r := crm.Row{"leadid": u.leadID}
	maps.Copy(r, u.row)
	return r
}

// write sends the batch's writes: bulk messages or one $batch of change
// sets. Errors land on the units (and contacts) they concern.
func (b *Batcher) write(ctx context.Context, units []*unit, contacts map[string]*newContact) {
	if b.Writes == WritesChangeSets {
		b.writeChangeSets(ctx, units)
		return
	}
	var cs []*newContact
	for _, u := range units {
		if u.contact != nil && u.contact.err == nil && !slices.Contains(cs, u.contact) {
			cs = append(cs, u.contact)
		}
	}
	if len(cs) > 0 {
		rows := make([]crm.Row, len(cs))
		for i, c := range cs {
			rows[i] = c.row
		}
		errs := b.bulk(ctx, "contacts", "CreateMultiple", rows)
		for i, c := range cs {
			c.err = errs[i]
			if errors.Is(c.err, crm.ErrExists) {
				c.err = nil // an earlier attempt created it: it is this contact
			}
		}
	}
	var creates, updates []*unit
	for _, u := range units {
		if u.contact != nil && u.contact.err != nil {
			u.err = u.contact.err
			continue
		}
		switch {
		case u.create:
			creates = append(creates, u)
		case len(u.row) > 0:
			updates = append(updates, u)
		}
	}
	for _, w := range []struct {
		message string
		units   []*unit
	}{{"CreateMultiple", creates}, {"UpdateMultiple", updates}} {
		if len(w.units) == 0 {
			continue
		}
		rows := make([]crm.Row, len(w.units))
		for i, u := range w.units {
			rows[i] = u.row
			if w.message == "UpdateMultiple" {
				rows[i] = u.updateRow()
			}
		}
		errs := b.bulk(ctx, "leads", w.message, rows)
		for i, u := range w.units {
			u.err = errs[i]
			if w.message == "CreateMultiple" && errors.Is(u.err, crm.ErrExists) {
				u.err, u.exists = nil, true
			}
		}
	}
}

// bulk writes rows with one bulk message. If Dataverse refuses it for a
// row (a 4xx: the message is all or nothing), the rows are sent again each
// on its own in one $batch with odata.continue-on-error, so that only the
// bad row's submission fails. It returns one error per row.
func (b *Batcher) bulk(ctx context.Context, set, message string, rows []crm.Row) []error {
	errs := make([]error, len(rows))
	done, err := b.gov.reserve(ctx, len(rows))
	if err != nil {
		return fill(errs, err)
	}
	start := time.Now()
	var bud crm.Budget
	if message == "CreateMultiple" {
		bud, err = b.D.CRM.CreateMultiple(ctx, set, rows)
	} else {
		bud, err = b.D.CRM.UpdateMultiple(ctx, set, rows)
	}
	done(start, bud, err == nil)
	var api *crm.APIError
	if err == nil || !errors.As(err, &api) || api.Status >= 500 || api.Status == http.StatusTooManyRequests || api.Status == http.StatusUnauthorized {
		return fill(errs, err)
	}
	// One row spoiled the message: find it.
	groups := make([][]crm.BatchOp, len(rows))
	for i, r := range rows {
		groups[i] = []crm.BatchOp{rowOp(set, message, r)}
	}
	res, err := b.batch(ctx, groups)
	if err != nil {
		return fill(errs, err)
	}
	for i := range rows {
		errs[i] = res[i][0].Err
	}
	return errs
}

// batch sends a $batch through the governor.
func (b *Batcher) batch(ctx context.Context, groups [][]crm.BatchOp) ([][]crm.BatchResult, error) {
	n := 0
	for _, g := range groups {
		n += len(g)
	}
	done, err := b.gov.reserve(ctx, n)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	res, bud, err := b.D.CRM.Batch(ctx, groups)
	done(start, bud, err == nil)
	return res, err
}

func fill(errs []error, err error) []error {
	for i := range errs {
		errs[i] = err
	}
	return errs
}

// rowOp is the single request equivalent to one row of a bulk message:
// a create by its key (If-None-Match: *, as the single path creates) or an
// update of an existing row (If-Match: *).
func rowOp(set, message string, r crm.Row) crm.BatchOp {
	pk := strings.TrimSuffix(set, "s") + "id"
	id := str(r[pk])
	body := crm.Row{}
	for c, v := range r {
		if c != pk {
			body[c] = v
		}
	}
	h := http.Header{"If-Match": {"*"}}
	if message == "CreateMultiple" {
		h = http.Header{"If-None-Match": {"*"}}
	}
	return crm.BatchOp{Method: http.MethodPatch, Path: set + "(" + id + ")", Header: h, Body: body}
}

// writeChangeSets writes each unit as one change set of a $batch: its new
// contact (if it creates one) and its lead, together or not at all.
func (b *Batcher) writeChangeSets(ctx context.Context, units []*unit) {
	var groups [][]crm.BatchOp
	var owners []*unit
	created := map[*newContact]bool{}
	for _, u := range units {
		var ops []crm.BatchOp
		if c := u.contact; c != nil && !created[c] {
			created[c] = true
			ops = append(ops, rowOp("contacts", "CreateMultiple", c.row))
		}
		switch {
		case u.create:
			ops = append(ops, rowOp("leads", "CreateMultiple", u.row))
		case len(u.row) > 0:
			ops = append(ops, rowOp("leads", "UpdateMultiple", u.updateRow()))
		}
		if len(ops) == 0 {
			continue
		}
		groups = append(groups, ops)
		owners = append(owners, u)
	}
	if len(groups) == 0 {
		return
	}
	res, err := b.batch(ctx, groups)
	for i, u := range owners {
		if err != nil {
			u.err = err
			continue
		}
		last := res[i][len(res[i])-1]
		u.err = last.Err
		if u.create && errors.Is(u.err, crm.ErrExists) {
			// Its contact or its lead was written by an earlier attempt
			// whose answer was lost; the one-at-a-time path sorts it out.
			u.err, u.exists = nil, true
		}
	}
}

// finish gives each member of a unit its outcome.
func (b *Batcher) finish(ctx context.Context, f *forms.Form, u *unit) {
	for i, m := range u.members {
		if m.done {
			continue
		}
		m.done = true
		switch {
		case u.err != nil:
			m.out.err = u.err
		case u.exists && i == 0:
			// The create was refused because the key exists: an earlier
			// attempt of this submission wrote it. The single path reads
			// it back and reports it.
			m.p.retry = true
			m.out.res, m.out.err = b.D.deliver(ctx, f, m.p)
		case u.exists:
			m.out.err = errors.New("delivery: the lead of this person's batch was written by an earlier attempt; trying again")
		case u.create && i == 0:
			res := Result{LeadID: u.leadID, Action: "created"}
			if u.contact != nil || m.p.contactWhy != "" {
				res.ContactID = boundContact(m.p.lead["parentcontactid@odata.bind"])
			}
			switch {
			case m.m.rule == "":
				res.Match = fmt.Sprintf("no match key could be used (%s); created a new lead", strings.Join(m.m.skipped, "; "))
			case len(m.m.rows) == 0:
				res.Match = m.m.because(fmt.Sprintf("no open lead matched on %s (filter: %s); created a new lead", m.m.rule, m.m.filter))
			default:
				res.Match = m.m.because(fmt.Sprintf("open leads %s matched on %s (filter: %s) but on_match is create_new; created a new lead", strings.Join(ids(m.m.rows), ", "), m.m.rule, m.m.filter))
			}
			res.Match = m.p.withContact(res.Match)
			if len(u.members) > 1 {
				res.Match += fmt.Sprintf("; %d other submissions of this person in the same batch were added to it", len(u.members)-1)
			}
			m.out.res = res
		default:
			res := Result{LeadID: u.leadID, Action: "updated", Changes: m.out.res.Changes}
			res.ContactID = boundContact(m.p.lead["parentcontactid@odata.bind"])
			var why string
			if u.create {
				why = fmt.Sprintf("matched on %s (filter: %s) the lead %s created in the same batch for submission %s of the same person; %s",
					m.m.rule, m.m.filter, u.leadID, u.members[0].rec.ID, m.why)
			} else {
				why = fmt.Sprintf("matched on %s (filter: %s); candidates %s; chose %s, the oldest open lead; %s",
					m.m.rule, m.m.filter, strings.Join(ids(m.m.rows), ", "), u.leadID, m.why)
				if bound := str(m.m.rows[0]["_parentcontactid_value"]); bound != "" && res.ContactID != "" && !strings.EqualFold(bound, res.ContactID) {
					m.p.keptContact = bound
				}
			}
			res.Match = m.p.withContact(m.m.because(why))
			m.out.res = res
		}
	}
}

// boundContact is the contact id in a parentcontactid@odata.bind value
// (what crm.ContactRef wrote); "" when there is none.
func boundContact(v any) string {
	return strings.TrimSuffix(strings.TrimPrefix(str(v), "/contacts("), ")")
}
