package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/net/publicsuffix"

	"github.com/leadbridge/leadbridge/crm"
	"github.com/leadbridge/leadbridge/forms"
	"github.com/leadbridge/leadbridge/submission"
)

// What a form maps beyond columns: the owner its routing rules pick, the
// campaign, the account, lookups by key to rows of any table, and the note
// written after the row exists. Each decision is explained in the
// submission's match explanation, which the admin console shows.

// deliverMapped resolves the form's owner, campaign, account and lookups,
// writes the row with their bindings, then its note, and adds what was
// decided to the explanation. A binding refused because its row is gone
// (a cached id deleted since) is resolved again once, without the cache.
func (d *Deliverer) deliverMapped(ctx context.Context, f *forms.Form, rec *submission.Record, p *leadPlan) (Result, error) {
	var (
		res Result
		m   mapped
		err error
	)
	if p.retry && !p.upserts(f) {
		// An earlier attempt may have written the row and lost the answer.
		// Found by its key, it holds its bindings already: resolving them
		// again would only fail it if a row it binds was deleted since.
		res, found, err := d.ownRow(ctx, f, p)
		switch {
		case err != nil:
			return Result{}, err
		case found:
			res.Match += "; its owner, campaign, account and lookups were bound then and are not resolved again"
			return d.withNote(ctx, f, rec, p, res)
		}
		p.retry = false // looked for: not there
	}
	for try := 0; ; try++ {
		if try > 0 {
			p = d.plan(f, rec)
			p.retry = false
		}
		if m, err = d.mapRow(ctx, f, rec, p); err != nil {
			return Result{}, err
		}
		for k, v := range m.binds {
			p.lead[k] = v
		}
		if f.IsLead() {
			res, err = d.deliver(ctx, f, p)
		} else {
			res, err = d.createRow(ctx, f, p)
		}
		if err == nil || !bindGone(err, f) {
			break
		}
		d.ids().purge()
		if try == 1 {
			var api *crm.APIError
			errors.As(err, &api)
			return Result{}, &MappingError{Category: submission.CategoryInvalidData,
				Message: "a row this submission binds to does not exist (" + api.Message + "); add it or correct the form, then retry"}
		}
	}
	if err != nil {
		return res, err
	}
	res.Match = withMapping(res, m, p.upserts(f))
	return d.withNote(ctx, f, rec, p, res)
}

// withNote writes the form's note on the delivered row, if it has one.
func (d *Deliverer) withNote(ctx context.Context, f *forms.Form, rec *submission.Record, p *leadPlan, res Result) (Result, error) {
	if f.Note == nil || res.LeadID == "" {
		return res, nil
	}
	said, err := d.writeNote(ctx, f, rec, p.values, res.LeadID)
	if err != nil {
		return res, err
	}
	res.Match += "; " + said
	return res, nil
}

// ownRow looks for the row this submission creates, by its derived key:
// on a retry, an earlier attempt may have written it and lost the answer.
// First attempts skip this request.
func (d *Deliverer) ownRow(ctx context.Context, f *forms.Form, p *leadPlan) (Result, bool, error) {
	if f.IsLead() {
		row, err := d.CRM.GetLead(ctx, p.leadID, "_parentcontactid_value")
		switch {
		case err == nil:
			return ownLead(row, "found by its key on this retry"), true, nil
		case !errors.Is(err, crm.ErrNotFound):
			return Result{}, false, err
		}
		return Result{}, false, nil
	}
	_, err := d.CRM.GetRow(ctx, f.Set(), p.leadID, f.PrimaryKey())
	switch {
	case err == nil:
		return Result{LeadID: p.leadID, Action: "created", Match: fmt.Sprintf(
			"%s %s was created by an earlier attempt of this submission that could not record it (found by its key on this retry)", f.Table, p.leadID)}, true, nil
	case !errors.Is(err, crm.ErrNotFound):
		return Result{}, false, err
	}
	return Result{}, false, nil
}

// withMapping adds the mapping's decisions to an explanation, and says
// which bindings a matched lead kept as it had them.
func withMapping(res Result, m mapped, upserted bool) string {
	s := res.Match
	for _, n := range m.notes {
		s += "; " + n
	}
	if res.Action != "updated" || upserted || strings.HasPrefix(res.Match, "lead ") {
		return s
	}
	var kept []string
	for k := range m.binds {
		nav := strings.TrimSuffix(k, "@odata.bind")
		if !slices.ContainsFunc(res.Changes, func(c submission.Change) bool { return c.Column == nav }) {
			kept = append(kept, nav)
		}
	}
	if len(kept) > 0 {
		sort.Strings(kept)
		s += "; the matched lead keeps its own " + strings.Join(kept, ", ")
	}
	return s
}

// createRow writes a form's row into a table other than lead: every
// submission creates one row, with its own key, so a retry finds the row
// its earlier attempt wrote — or, with an alternate key, one upsert keeps
// one row per key value.
func (d *Deliverer) createRow(ctx context.Context, f *forms.Form, p *leadPlan) (Result, error) {
	set, id := f.Set(), p.leadID
	if p.upserts(f) {
		key := str(p.lead[f.AlternateKey])
		body := crm.Row(maps.Clone(p.lead))
		delete(body, f.AlternateKey) // the key goes in the URL only
		row, created, err := d.CRM.UpsertRow(ctx, set, f.AlternateKey, key, body, f.PrimaryKey())
		if err != nil {
			return Result{}, err
		}
		res := Result{LeadID: str(row[f.PrimaryKey()]), Action: actionOf(created)}
		res.Match = fmt.Sprintf("upserted %s %s by alternate key %s = %s (%s)", f.Table, res.LeadID, f.AlternateKey, crm.Quote(key), res.Action)
		return res, nil
	}
	res := Result{LeadID: id, Action: "created"}
	earlier := fmt.Sprintf("%s %s was created by an earlier attempt of this submission that could not record it", f.Table, id)
	if p.retry {
		if own, found, err := d.ownRow(ctx, f, p); err != nil || found {
			return own, err
		}
	}
	_, err := d.CRM.CreateRow(ctx, set, id, crm.Row(p.lead), f.PrimaryKey())
	switch {
	case errors.Is(err, crm.ErrExists):
		res.Match = earlier + " (its create was refused: the key exists)"
		return res, nil
	case err != nil:
		return Result{}, err
	}
	res.Match = fmt.Sprintf("created %s %s in %s (a form on a table other than lead creates a row for every submission)", f.Table, id, set)
	return res, nil
}

// MappingError is a delivery that cannot be made as the form says: a row a
// lookup names does not exist (invalid_data: fix the value or add the row,
// then retry), or an owner the form names is not in the org
// (configuration). It is never retried on its own: nothing changes until a
// person acts.
type MappingError struct {
	Category string // submission.CategoryInvalidData or CategoryConfiguration
	Message  string // words for the failed list; never a submitted value

	disabled bool // the owner named is a disabled user
}

func (e *MappingError) Error() string { return e.Message }

// mapped is what resolving a form's mapping gave: the bindings to add to
// the row, and what was decided, in words.
type mapped struct {
	binds map[string]string // "<navprop>@odata.bind" → "/set(id)"
	notes []string          // one sentence per decision
}

// cacheTTL is how long a resolved id is kept: a campaign or an owner is
// not queried for each lead, and a renamed one is seen within minutes.
// A campaign found missing is remembered for missTTL; a missing lookup row
// is never remembered, so that a retry after the row was added finds it.
const (
	cacheTTL = 5 * time.Minute
	missTTL  = time.Minute
)

// idCache holds ids found by key, per worker process.
type idCache struct {
	mu  sync.Mutex
	m   map[string]cached
	now func() time.Time
}

type cached struct {
	id  string // "" = known missing
	exp time.Time
}

// maxCached bounds the cache; past it, expired entries go, then all.
const maxCached = 10_000

func (c *idCache) get(key string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || c.now().After(e.exp) {
		return "", false
	}
	return e.id, true
}

func (c *idCache) put(key, id string, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]cached{}
	}
	if len(c.m) >= maxCached {
		now := c.now()
		for k, e := range c.m {
			if now.After(e.exp) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= maxCached {
			clear(c.m)
		}
	}
	c.m[key] = cached{id: id, exp: c.now().Add(ttl)}
}

func (c *idCache) purge() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.m)
}

// resolve returns the id found by key through find, from the cache when
// it is fresh. find returns "" for no row; remember says for how long
// such an answer is kept (0: not at all).
func (d *Deliverer) resolve(ctx context.Context, key string, miss time.Duration, find func() (string, error)) (string, bool, error) {
	c := d.ids()
	if id, ok := c.get(key); ok {
		return id, true, nil
	}
	id, err := find()
	if err != nil {
		return "", false, err
	}
	switch {
	case id != "":
		c.put(key, id, cacheTTL)
	case miss > 0:
		c.put(key, "", miss)
	}
	return id, false, nil
}

func (d *Deliverer) ids() *idCache {
	d.cacheOnce.Do(func() {
		d.cache = &idCache{now: time.Now}
	})
	return d.cache
}

// mapRow resolves the form's owner, campaign, account and lookup fields
// for the submission.
func (d *Deliverer) mapRow(ctx context.Context, f *forms.Form, rec *submission.Record, p *leadPlan) (mapped, error) {
	m := mapped{binds: map[string]string{}}
	for _, fd := range f.Fields {
		if fd.Kind != forms.KindLookup || p.values[fd.Name] == "" {
			continue
		}
		id, err := d.lookupRow(ctx, fd, p.values[fd.Name])
		if err != nil {
			return m, err
		}
		m.binds[fd.Column+"@odata.bind"] = crm.Ref(fd.Lookup.Table, id)
	}
	if f.Owner != nil {
		if err := d.mapOwner(ctx, f, rec, p, &m); err != nil {
			return m, err
		}
	}
	if f.Campaign != nil {
		if err := d.mapCampaign(ctx, f, rec, p, &m); err != nil {
			return m, err
		}
	}
	if f.Account != nil {
		if err := d.mapAccount(ctx, f, rec, p, &m); err != nil {
			return m, err
		}
	}
	return m, nil
}

// lookupRow finds the row of a lookup field's table whose key column holds
// v. A missing row fails the submission: the value names a row the org
// does not have.
func (d *Deliverer) lookupRow(ctx context.Context, fd forms.Field, v string) (string, error) {
	set, key := fd.Lookup.Table, fd.Lookup.Key
	pk := fd.Lookup.PrimaryKey()
	id, _, err := d.resolve(ctx, "lookup:"+set+":"+key+":"+v, 0, func() (string, error) {
		rows, err := d.CRM.FindRows(ctx, set, crm.Query{Select: []string{pk}, Filter: lookupFilter(fd.Lookup, v), Top: 2})
		if err != nil || len(rows) == 0 {
			return "", err
		}
		return str(rows[0][pk]), nil
	})
	if err != nil {
		return "", err
	}
	if id == "" {
		// The value is left out: it may be personal data, and this text is
		// logged. The submission's detail shows it.
		return "", &MappingError{Category: submission.CategoryInvalidData, Message: fmt.Sprintf(
			"lookup %s: no row of %s has %s equal to the value of field %s; add that row or correct the value, then retry",
			fd.Column, set, key, fd.Name)}
	}
	return id, nil
}

// lookupFilter compares the key column with v as the column's type needs:
// a number or GUID unquoted, text quoted. v is the value intake cleaned
// (forms.LookupKey): a number's plain text, a GUID.
func lookupFilter(l *forms.Lookup, v string) crm.Filter {
	switch l.KeyKind {
	case forms.KeyNumber, forms.KeyDecimal:
		return crm.EqNumber(l.Key, v)
	case forms.KeyGUID:
		return crm.EqGUID(l.Key, v)
	}
	return crm.Eq(l.Key, v)
}

// mapOwner applies the first routing rule whose conditions hold, or the
// default.
func (d *Deliverer) mapOwner(ctx context.Context, f *forms.Form, rec *submission.Record, p *leadPlan, m *mapped) error {
	o := f.Owner
	var rule *forms.OwnerRule
	why := ""
	for i := range o.Rules {
		r := &o.Rules[i]
		if ok, conds := ruleHolds(r, rec, p.values); ok {
			rule, why = r, fmt.Sprintf("rule %d (%s)", i+1, conds)
			break
		}
	}
	if rule == nil {
		if o.Default == nil {
			m.notes = append(m.notes, "owner: no routing rule held and there is no default; Dataverse makes the application user the owner")
			return nil
		}
		rule, why = o.Default, "no rule held; the default"
	}
	target := rule.Owner
	var set, id string
	if len(rule.RoundRobin) > 0 {
		var err error
		if target, set, id, why, err = d.roundRobin(ctx, f, rule, ruleIndex(o, rule), rec.ID, why); err != nil {
			return err
		}
	} else {
		var err error
		if set, id, err = d.principal(ctx, target); err != nil {
			return err
		}
	}
	m.binds["ownerid@odata.bind"] = crm.Ref(set, id)
	m.notes = append(m.notes, fmt.Sprintf("owner: %s → %s (%s)", why, target, crm.Ref(set, id)))
	return nil
}

// roundRobin gives the submission to the user whose turn it is. When that
// user is disabled (on leave, or gone), the turn goes to the list's enabled
// users, taken in turn among themselves so that none gets a double share,
// and the explanation says so; only a list whose every user is disabled
// fails, as the form's configuration.
func (d *Deliverer) roundRobin(ctx context.Context, f *forms.Form, rule *forms.OwnerRule, ruleID, submissionID, why string) (forms.Principal, string, string, string, error) {
	n := len(rule.RoundRobin)
	c, err := d.turn(ctx, f.ID, ruleID, submissionID)
	if err != nil {
		return forms.Principal{}, "", "", "", err
	}
	i := int(c % int64(n))
	why += fmt.Sprintf(", round robin %d of %d", i+1, n)
	target := rule.RoundRobin[i]
	set, id, err := d.principal(ctx, target)
	if !isDisabled(err) {
		return target, set, id, why, err
	}
	type user struct {
		at      int
		p       forms.Principal
		set, id string
	}
	var enabled []user
	for j, p := range rule.RoundRobin {
		if j == i {
			continue
		}
		set, id, err := d.principal(ctx, p)
		switch {
		case isDisabled(err):
			continue
		case err != nil:
			return forms.Principal{}, "", "", "", err
		}
		enabled = append(enabled, user{j, p, set, id})
	}
	// Which user stays out of the log: a user's name is personal data.
	d.logger().Warn("round robin: the user whose turn it was is disabled; the turn goes to the list's enabled users",
		"form", f.ID, "rule", ruleID, "position", i+1, "of", n, "enabled", len(enabled))
	if len(enabled) == 0 {
		return forms.Principal{}, "", "", "", &MappingError{Category: submission.CategoryConfiguration, Message: fmt.Sprintf(
			"owner: every user of the round robin of owner rule %s (%d users) is disabled in the org and cannot own rows; enable one or change the form's owner settings, then retry",
			ruleID, n)}
	}
	u := enabled[c%int64(len(enabled))]
	why += fmt.Sprintf("; %s (%d of %d) is disabled, so the turn went to the %d enabled users in turn: %d of %d",
		target, i+1, n, len(enabled), u.at+1, n)
	return u.p, u.set, u.id, why, nil
}

func isDisabled(err error) bool {
	var me *MappingError
	return errors.As(err, &me) && me.disabled
}

// inError is the principal as an error names it. Errors are logged, so a
// user named by an email address or domainname shows only its domain; a
// team's name or an id is not personal data.
func inError(p forms.Principal) string {
	if p.Team != "" || forms.IsGUID(p.User) {
		return p.String()
	}
	if at := strings.LastIndex(p.User, "@"); at >= 0 {
		return "user …" + p.User[at:]
	}
	if sl := strings.LastIndex(p.User, `\`); sl >= 0 {
		return "user " + p.User[:sl+1] + "…" // DOMAIN\name
	}
	return "a user"
}

func (d *Deliverer) logger() *slog.Logger {
	if d.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return d.Log
}

// ruleHolds reports whether every condition of r holds, and says which.
func ruleHolds(r *forms.OwnerRule, rec *submission.Record, values map[string]string) (bool, string) {
	names := make([]string, 0, len(r.When))
	for k := range r.When {
		names = append(names, k)
	}
	sort.Strings(names)
	var said []string
	for _, k := range names {
		got := valueOf(k, rec, values)
		ok := false
		for _, want := range r.When[k] {
			ok = ok || (got != "" && strings.EqualFold(strings.TrimSpace(got), strings.TrimSpace(want)))
		}
		if !ok {
			return false, ""
		}
		said = append(said, k+" = "+got)
	}
	return true, strings.Join(said, ", ")
}

// valueOf is what a rule or setting names: a field's cleaned value, an
// attribution value, or the submission's source.
func valueOf(name string, rec *submission.Record, values map[string]string) string {
	if v, ok := values[name]; ok {
		return v
	}
	if v := rec.Attribution[name]; v != "" {
		return v
	}
	if name == "source" {
		return rec.Source
	}
	return ""
}

func ruleIndex(o *forms.Owner, r *forms.OwnerRule) string {
	for i := range o.Rules {
		if &o.Rules[i] == r {
			return fmt.Sprint(i + 1)
		}
	}
	return "default"
}

// turnScript gives a submission its place in a round robin: the counter's
// next value, remembered for the submission so that its retries pick the
// same person. Both keys share a hash tag (one Cluster slot).
var turnScript = redis.NewScript(`
local v = redis.call('GET', KEYS[2])
if v then return tonumber(v) end
local n = redis.call('INCR', KEYS[1])
redis.call('SET', KEYS[2], n, 'EX', ARGV[1])
return n
`)

// turnTTL is how long a submission's round-robin pick is remembered.
const turnTTL = 7 * 24 * time.Hour

// turn is the submission's place in the round robin of rule, counted from
// 0 and shared by every worker through Redis; a retry gets the same place.
func (d *Deliverer) turn(ctx context.Context, form, rule, submissionID string) (int64, error) {
	if d.Redis == nil {
		return 0, errors.New("delivery: round robin needs Redis (Deliverer.Redis)")
	}
	key := "lb:rr:{" + form + ":" + rule + "}"
	v, err := turnScript.Run(ctx, d.Redis, []string{key, key + ":" + submissionID}, int(turnTTL.Seconds())).Int64()
	if err != nil {
		return 0, fmt.Errorf("delivery: round robin: %w", err)
	}
	return v - 1, nil
}

// principal finds the user or team the form names: by id, a user by
// domainname or internalemailaddress, a team by name.
func (d *Deliverer) principal(ctx context.Context, p forms.Principal) (set, id string, err error) {
	set, key, pk := "systemusers", p.User, "systemuserid"
	flt := crm.Or(crm.Eq("domainname", key), crm.Eq("internalemailaddress", key))
	if p.Team != "" {
		set, key, pk = "teams", p.Team, "teamid"
		flt = crm.Eq("name", key)
	}
	if forms.IsGUID(key) {
		return set, strings.ToLower(key), nil
	}
	sel := []string{pk}
	if p.Team == "" {
		sel = append(sel, "isdisabled")
	}
	disabled := false
	id, _, err = d.resolve(ctx, "owner:"+set+":"+strings.ToLower(key), 0, func() (string, error) {
		rows, err := d.CRM.FindRows(ctx, set, crm.Query{Select: sel, Filter: flt, Top: 1})
		if err != nil || len(rows) == 0 {
			return "", err
		}
		if rows[0]["isdisabled"] == true {
			// A disabled user cannot own rows; not cached, so that
			// enabling the user is seen at once.
			disabled = true
			return "", nil
		}
		return str(rows[0][pk]), nil
	})
	switch {
	case err != nil:
		return "", "", err
	case disabled:
		return "", "", &MappingError{Category: submission.CategoryConfiguration, disabled: true, Message: fmt.Sprintf(
			"owner: the form names %s, who is disabled in the org and cannot own rows; enable the user or change the form's owner settings, then retry", inError(p))}
	case id == "":
		return "", "", &MappingError{Category: submission.CategoryConfiguration, Message: fmt.Sprintf(
			"owner: the form names %s, which the org does not have; correct the form's owner settings, then retry", inError(p))}
	}
	return set, id, nil
}

// mapCampaign binds the campaign the submission names (by name or code);
// an unknown one leaves the lookup empty and says so.
func (d *Deliverer) mapCampaign(ctx context.Context, f *forms.Form, rec *submission.Record, p *leadPlan, m *mapped) error {
	c := f.Campaign
	v := c.Value
	if c.From != "" {
		v = valueOf(c.From, rec, p.values)
	}
	v = strings.TrimSpace(v)
	if v == "" {
		m.notes = append(m.notes, fmt.Sprintf("campaign: the submission has no %s; %s left empty", c.From, c.Column))
		return nil
	}
	id, _, err := d.resolve(ctx, "campaign:"+strings.ToLower(v), missTTL, func() (string, error) {
		rows, err := d.CRM.FindRows(ctx, "campaigns", crm.Query{
			Select: []string{"campaignid"}, Filter: crm.Or(crm.Eq("name", v), crm.Eq("codename", v)),
			OrderBy: "createdon asc", Top: 1,
		})
		if err != nil || len(rows) == 0 {
			return "", err
		}
		return str(rows[0]["campaignid"]), nil
	})
	if err != nil {
		return err
	}
	if id == "" {
		m.notes = append(m.notes, fmt.Sprintf("campaign: no campaign is named or coded %s; %s left empty", crm.Quote(v), c.Column))
		return nil
	}
	m.binds[c.Column+"@odata.bind"] = crm.Ref("campaigns", id)
	m.notes = append(m.notes, fmt.Sprintf("campaign: %s → %s", crm.Quote(v), crm.Ref("campaigns", id)))
	return nil
}

// mapAccount binds an existing account found by the company's name or the
// email's domain (never a free-mail one), or creates one if the form says
// so.
func (d *Deliverer) mapAccount(ctx context.Context, f *forms.Form, rec *submission.Record, p *leadPlan, m *mapped) error {
	a := f.Account
	company := ""
	if fd, ok := f.IdentityField(forms.RoleCompany); ok {
		company = strings.TrimSpace(p.values[fd.Name])
	}
	var tried []string
	for _, rule := range a.Match {
		switch rule {
		case forms.AccountByCompany:
			if company == "" {
				tried = append(tried, "no company given")
				continue
			}
			id, err := d.accountByName(ctx, company)
			if err != nil {
				return err
			}
			if id != "" {
				d.bindAccount(a, m, id, "matched by company name")
				return nil
			}
			tried = append(tried, "no account named as the company")
		case forms.AccountByDomain:
			dom := emailDomain(p.email)
			reg := registrable(dom)
			switch {
			case dom == "":
				tried = append(tried, "no email domain")
				continue
			case isFreeMail(dom, a.FreeMail) || isFreeMail(reg, a.FreeMail):
				tried = append(tried, "email domain "+dom+" is free mail, not a company's")
				continue
			case reg == "":
				tried = append(tried, "email domain "+dom+" is not a registrable domain")
				continue
			}
			// An address at sales.contoso.com belongs to the company of
			// contoso.com: accounts are compared on the registrable domain.
			said := reg
			if dom != reg {
				said = reg + " (the address is at " + dom + ")"
			}
			id, err := d.accountByDomain(ctx, reg)
			if err != nil {
				return err
			}
			if id != "" {
				d.bindAccount(a, m, id, "matched by email domain "+said)
				return nil
			}
			tried = append(tried, "no account has email domain "+said)
		}
	}
	if a.Create && company != "" {
		id := accountID(rec.ID)
		_, err := d.CRM.CreateRow(ctx, "accounts", id, crm.Row{"name": forms.CutUTF16(company, 160)}, "accountid")
		if err != nil && !errors.Is(err, crm.ErrExists) {
			return err
		}
		d.ids().put("account:name:"+strings.ToLower(company), id, cacheTTL)
		d.bindAccount(a, m, id, "created for the company ("+strings.Join(tried, "; ")+")")
		return nil
	}
	m.notes = append(m.notes, fmt.Sprintf("account: %s; %s left empty", strings.Join(tried, "; "), a.Column))
	return nil
}

func (d *Deliverer) bindAccount(a *forms.Account, m *mapped, id, how string) {
	m.binds[a.Column+"@odata.bind"] = crm.Ref("accounts", id)
	m.notes = append(m.notes, fmt.Sprintf("account: %s → %s", how, crm.Ref("accounts", id)))
}

// accountByName finds the oldest active account with exactly that name.
func (d *Deliverer) accountByName(ctx context.Context, name string) (string, error) {
	id, _, err := d.resolve(ctx, "account:name:"+strings.ToLower(name), 0, func() (string, error) {
		rows, err := d.CRM.FindRows(ctx, "accounts", crm.Query{
			Select: []string{"accountid"}, Filter: crm.And(crm.Eq("name", name), crm.EqInt("statecode", 0)),
			OrderBy: "createdon asc", Top: 1,
		})
		if err != nil || len(rows) == 0 {
			return "", err
		}
		return str(rows[0]["accountid"]), nil
	})
	return id, err
}

// accountByDomain finds the oldest active account whose email address or
// website is on the registrable domain dom (contoso.com, or any host below
// it). Dataverse is asked loosely (endswith, contains), and each row is
// checked exactly here: contoso.com must not match notcontoso.com, nor
// contoso.com.evil.net.
func (d *Deliverer) accountByDomain(ctx context.Context, dom string) (string, error) {
	id, _, err := d.resolve(ctx, "account:domain:"+dom, 0, func() (string, error) {
		rows, err := d.CRM.FindRows(ctx, "accounts", crm.Query{
			Select:  []string{"accountid", "emailaddress1", "websiteurl"},
			Filter:  crm.And(crm.Or(crm.EndsWith("emailaddress1", dom), crm.Contains("websiteurl", dom)), crm.EqInt("statecode", 0)),
			OrderBy: "createdon asc", Top: 20,
		})
		if err != nil {
			return "", err
		}
		for _, r := range rows {
			if registrable(emailDomain(str(r["emailaddress1"]))) == dom || siteOn(str(r["websiteurl"]), dom) {
				return str(r["accountid"]), nil
			}
		}
		return "", nil
	})
	return id, err
}

// siteOn reports whether a website address is on domain dom or below it.
func siteOn(site, dom string) bool {
	site = strings.TrimSpace(strings.ToLower(site))
	if site == "" {
		return false
	}
	if !strings.Contains(site, "://") {
		site = "https://" + site
	}
	u, err := url.Parse(site)
	if err != nil {
		return false
	}
	h := strings.TrimSuffix(u.Hostname(), ".")
	return h == dom || strings.HasSuffix(h, "."+dom)
}

// registrable is the domain a company registers that host is on: its
// public suffix and one label more (sales.contoso.com and contoso.com →
// contoso.com; shop.contoso.co.uk → contoso.co.uk), from the Public Suffix
// List. "" when host is a public suffix itself or not a domain name.
func registrable(host string) string {
	if host == "" || strings.HasPrefix(host, ".") || strings.Contains(host, "..") {
		return ""
	}
	reg, err := publicsuffix.EffectiveTLDPlusOne(host)
	if err != nil {
		return ""
	}
	return reg
}

func emailDomain(email string) string {
	_, dom, ok := strings.Cut(strings.ToLower(strings.TrimSpace(email)), "@")
	if !ok {
		return ""
	}
	return strings.TrimSuffix(dom, ".")
}

// freeMail are the domains of mailboxes anyone can open: an address there
// says nothing about the company. The common ones worldwide; a form adds
// its own with account.free_mail.
var freeMail = map[string]bool{
	"gmail.com": true, "googlemail.com": true, "yahoo.com": true, "yahoo.co.uk": true, "yahoo.fr": true, "yahoo.de": true,
	"yahoo.es": true, "yahoo.it": true, "yahoo.co.jp": true, "yahoo.com.br": true, "ymail.com": true, "rocketmail.com": true,
	"hotmail.com": true, "hotmail.co.uk": true, "hotmail.fr": true, "hotmail.de": true, "hotmail.es": true, "hotmail.it": true,
	"outlook.com": true, "outlook.de": true, "outlook.fr": true, "live.com": true, "live.co.uk": true, "live.fr": true,
	"live.de": true, "msn.com": true, "passport.com": true, "aol.com": true, "aim.com": true,
	"icloud.com": true, "me.com": true, "mac.com": true, "proton.me": true, "protonmail.com": true, "pm.me": true,
	"tutanota.com": true, "tuta.io": true, "zoho.com": true, "zohomail.com": true, "mail.com": true, "email.com": true,
	"gmx.com": true, "gmx.net": true, "gmx.de": true, "gmx.at": true, "gmx.ch": true, "web.de": true, "t-online.de": true,
	"freenet.de": true, "posteo.de": true, "mailbox.org": true, "orange.fr": true, "wanadoo.fr": true, "free.fr": true,
	"laposte.net": true, "sfr.fr": true, "libero.it": true, "virgilio.it": true, "alice.it": true, "tiscali.it": true,
	"btinternet.com": true, "sky.com": true, "virginmedia.com": true, "comcast.net": true, "verizon.net": true,
	"att.net": true, "sbcglobal.net": true, "bellsouth.net": true, "cox.net": true, "charter.net": true,
	"yandex.ru": true, "yandex.com": true, "ya.ru": true, "mail.ru": true, "inbox.ru": true, "list.ru": true, "bk.ru": true,
	"rambler.ru": true, "qq.com": true, "163.com": true, "126.com": true, "sina.com": true, "naver.com": true,
	"daum.net": true, "hanmail.net": true, "rediffmail.com": true, "seznam.cz": true, "wp.pl": true, "o2.pl": true,
	"onet.pl": true, "interia.pl": true, "uol.com.br": true, "bol.com.br": true, "terra.com.br": true, "fastmail.com": true,
	"hey.com": true, "duck.com": true, "bigpond.com": true, "optusnet.com.au": true, "shaw.ca": true, "rogers.com": true,
}

func isFreeMail(dom string, extra []string) bool {
	if freeMail[dom] {
		return true
	}
	for _, e := range extra {
		if dom == e {
			return true
		}
	}
	return false
}

// noteText is what the note keeps: the field's whole value, or every field
// of the submission as "Label: value" lines. "" = no note.
func noteText(f *forms.Form, values map[string]string) string {
	if f.Note.From != forms.NoteSubmission {
		return values[f.Note.From]
	}
	var b strings.Builder
	for _, fd := range f.Fields {
		v := values[fd.Name]
		if v == "" {
			continue
		}
		label := fd.Label
		if label == "" {
			label = fd.Name
		}
		if strings.Contains(v, "\n") {
			fmt.Fprintf(&b, "%s:\n%s\n", label, v)
		} else {
			fmt.Fprintf(&b, "%s: %s\n", label, v)
		}
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// writeNote keeps the form's note on the row once it exists. Its key is
// the submission's own, so a retried delivery finds the note its earlier
// attempt wrote instead of adding a second one.
func (d *Deliverer) writeNote(ctx context.Context, f *forms.Form, rec *submission.Record, values map[string]string, rowID string) (string, error) {
	text := forms.CutUTF16(noteText(f, values), forms.MaxNoteText)
	if text == "" {
		return "no note: the submission has no " + f.Note.From, nil
	}
	subject := f.Note.Subject
	if subject == "" {
		subject = "Message from " + f.Title
	}
	id := noteID(rec.ID)
	row := crm.Row{
		"subject":                             forms.CutUTF16(subject, 500),
		"notetext":                            text,
		"objectid_" + f.Table + "@odata.bind": crm.Ref(f.Set(), rowID),
	}
	_, err := d.CRM.CreateRow(ctx, "annotations", id, row, "annotationid")
	switch {
	case errors.Is(err, crm.ErrExists):
		return "note " + id + " (written by an earlier attempt)", nil
	case err != nil:
		return "", fmt.Errorf("delivery: note: %w", err)
	}
	return fmt.Sprintf("note %s keeps the %s (%d characters)", id, noteWhat(f), len([]rune(text))), nil
}

func noteWhat(f *forms.Form) string {
	if f.Note.From == forms.NoteSubmission {
		return "whole submission"
	}
	return "field " + f.Note.From
}

// bindGone reports whether a write was refused because a row it binds to
// does not exist ("account With Id = … Does Not Exist"): not the written
// row itself, nor the contact (which a new attempt finds or creates again).
func bindGone(err error, f *forms.Form) bool {
	var api *crm.APIError
	if !errors.As(err, &api) || api.Status != 404 || !strings.Contains(api.Message, " With Id = ") {
		return false
	}
	return !strings.HasPrefix(api.Message, f.Table+" With Id") && !strings.HasPrefix(api.Message, "contact With Id")
}
