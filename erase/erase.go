// Package erase removes a person from leadbridge's stores in Redis — the
// right to erasure of the GDPR (Art. 17) as far as leadbridge holds the
// data: every submission that carries their email address or phone number
// (received, waiting, delivered, failed, held as spam, discarded; a
// webhook's payload with it), its attempts, idempotency key or webhook
// delivery id and index entries, the queued tasks, the per-person leases of
// delivery, audit-log entries and the CRM health note that quote them. It
// reports what it removed by kind. It does not touch Dataverse: the lead and
// contact a submission became are the CRM's to erase.
//
// Both programs use it: `worker erase` on the command line and the admin
// console's Erase page.
package erase

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/leadbridge/leadbridge/audit"
	"github.com/leadbridge/leadbridge/crmhealth"
	"github.com/leadbridge/leadbridge/queue"
	"github.com/leadbridge/leadbridge/submission"
)

// LeasePrefix is the prefix of the per-person delivery leases the worker
// takes (package delivery's lock keys "lead:email:<address>",
// "contact:email:<address>", "lead:phone:<last ten digits>").
const LeasePrefix = "lb:lease"

// Errors returned by Erase.
var (
	// ErrNoPerson: neither an email address nor a phone number was given
	// (a value given but unusable is an *InvalidError).
	ErrNoPerson = errors.New("erase: give an email address or a phone number of at least 10 digits")
)

// InvalidError says which value given to Erase is unusable, and why, in
// words for the person who typed it.
type InvalidError struct {
	Field   string // "email" or "phone"
	Problem string
}

func (e *InvalidError) Error() string { return "erase: " + e.Field + ": " + e.Problem }

// Person is whom to erase: an email address, a phone number, or both.
type Person struct {
	Email string
	Phone string
}

// Report is what Erase removed (or, in a dry run, would remove), by kind.
type Report struct {
	DryRun      bool
	Submissions map[string]int // by status
	// IdempotencyKeys are form Idempotency-Keys and webhook delivery ids
	// that named an erased submission.
	IdempotencyKeys int
	Tasks           int // asynq tasks: waiting, scheduled, retrying, archived
	// Running are tasks a worker was delivering at that moment: they end by
	// themselves once their record is gone (the CRM write they were making
	// may still land, in Dataverse).
	Running      int
	Leases       int // lease and fencing-counter keys
	AuditEntries int // audit-log entries quoting the address or number
	CRMHealth    int // fields of the CRM health note quoting them
	// EmailRef is submission.EmailRef of the address: what the audit log
	// keeps instead of it.
	EmailRef string
}

// Total is how many submissions the report counts.
func (r Report) Total() int {
	n := 0
	for _, c := range r.Submissions {
		n += c
	}
	return n
}

// Eraser erases people. Every field is required.
type Eraser struct {
	Redis  redis.UniversalClient
	Store  *submission.Store
	Queue  *queue.Client
	Audit  *audit.Log
	Health *crmhealth.Publisher
}

// New returns an Eraser on rdb.
func New(rdb redis.UniversalClient, store *submission.Store, q *queue.Client) *Eraser {
	return &Eraser{Redis: rdb, Store: store, Queue: q, Audit: audit.New(rdb), Health: crmhealth.NewPublisher(rdb)}
}

// matcher is a Person ready to be looked for.
type matcher struct {
	email string // lower-cased
	phone string // its last ten digits; "" if none
}

var nonDigits = regexp.MustCompile(`[^0-9]`)

func newMatcher(p Person) (matcher, error) {
	var m matcher
	if e := strings.TrimSpace(p.Email); e != "" {
		m.email = submission.NormalizeEmail(e)
		if m.email == "" {
			return m, &InvalidError{Field: "email", Problem: "is not an email address"}
		}
	}
	if p.Phone != "" {
		d := nonDigits.ReplaceAllString(p.Phone, "")
		if len(d) < 10 || len(d) > 15 {
			return m, &InvalidError{Field: "phone", Problem: "needs 10 to 15 digits"}
		}
		m.phone = d[len(d)-10:]
	}
	if m.email == "" && m.phone == "" {
		return m, ErrNoPerson
	}
	return m, nil
}

// text reports whether s quotes the address (in any case) or the number
// (whatever the separators between its digits).
func (m matcher) text(s string) bool {
	if m.email != "" && addressIn(strings.ToLower(s), m.email) {
		return true
	}
	return m.phone != "" && phoneIn(s, m.phone)
}

// addressIn reports whether text (lower-cased) holds the address email as
// a whole: not the end of a longer one (joann@… for ann@…) nor the start
// of one on a longer domain (ann@example.com.au, ann@example.community).
func addressIn(text, email string) bool {
	for from := 0; ; {
		i := strings.Index(text[from:], email)
		if i < 0 {
			return false
		}
		start, end := from+i, from+i+len(email)
		before := start == 0 || !localChar(text[start-1])
		after := end == len(text) || !(domainChar(text[end]) || text[end] == '.' && end+1 < len(text) && domainChar(text[end+1]))
		if before && after {
			return true
		}
		from = start + 1
	}
}

// localChar: a byte that can be part of an address's local part.
func localChar(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || strings.IndexByte(".!#$%&'*+/=?^_`{|}~-", b) >= 0 || b >= 0x80
}

// domainChar: a byte that can continue a domain name.
func domainChar(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '-' || b == '_' || b >= 0x80
}

// phoneIn: s writes the number: its last ten digits appear in a run of
// digits and separators (space, dot, dash, slash, parentheses, a leading
// +), as a whole group — a separator or the run's edge right after them,
// and before them at most three more digits since the last separator (a
// country code: the rule delivery matches phones by). So "+1 (555)
// 010-2030", "15550102030" and "call 555 010 2030 after 2026" hold
// 5550102030; "12345550102030" and "55501020301" do not.
func phoneIn(s, phone string) bool {
	for _, run := range phoneRuns.FindAllString(s, -1) {
		var digits []byte
		var sepBefore []bool // a separator came before digit i
		sep := true
		for i := 0; i < len(run); i++ {
			if b := run[i]; b >= '0' && b <= '9' {
				digits = append(digits, b)
				sepBefore = append(sepBefore, sep)
				sep = false
			} else {
				sep = true
			}
		}
		d := string(digits)
		for from := 0; ; {
			i := strings.Index(d[from:], phone)
			if i < 0 {
				break
			}
			i += from
			end := i + len(phone)
			after := end == len(d) || sepBefore[end]
			g := i // the start of the group of digits the number begins in
			for !sepBefore[g] {
				g--
			}
			before := i-g <= 3
			if after && before {
				return true
			}
			from = i + 1
		}
	}
	return false
}

var phoneRuns = regexp.MustCompile(`\+?[0-9][0-9 ()./-]*[0-9]`)

// record reports whether a submission is the person's: any text it keeps
// about what was received — field values, corrections, what an update
// changed, the webhook payload, the error Dataverse gave.
func (m matcher) record(r *submission.Record) bool {
	var texts []string
	for _, v := range r.Fields {
		texts = append(texts, v)
	}
	for _, e := range r.Edits {
		for _, v := range e.Before {
			texts = append(texts, v)
		}
		for _, v := range e.After {
			texts = append(texts, v)
		}
	}
	for _, c := range r.Changes {
		texts = append(texts, fmt.Sprint(c.Before), fmt.Sprint(c.After))
	}
	if r.Payload != nil {
		texts = append(texts, r.Payload.Body)
	}
	if r.LastError != nil {
		texts = append(texts, r.LastError.Message)
	}
	for _, a := range r.Attempts {
		if a.Error != nil {
			texts = append(texts, a.Error.Message)
		}
	}
	if r.Spam != nil {
		texts = append(texts, r.Spam.Detail)
	}
	texts = append(texts, r.DiscardReason, r.Match)
	for _, t := range texts {
		if m.text(t) {
			return true
		}
	}
	return false
}

// leaseKey reports whether a delivery lock key names the person.
func (m matcher) leaseKey(k string) bool {
	kind, value, ok := cutKind(k)
	if !ok {
		return false
	}
	switch kind {
	case "email":
		return m.email != "" && strings.EqualFold(value, m.email)
	case "phone":
		return m.phone != "" && value == m.phone
	}
	return false
}

// cutKind splits "lead:email:<v>" into "email" and <v>.
func cutKind(k string) (kind, value string, ok bool) {
	_, rest, ok := strings.Cut(k, ":")
	if !ok {
		return "", "", false
	}
	return strings.Cut(rest, ":")
}

// Erase removes the person p from every store, or with dryRun only counts
// what it would remove. Submissions are read in full (Store.Find) and
// looked for again after the deletions, so that one whose status changed
// during the first pass is not missed; a submission received after Erase
// returns is not erased. Errors: ErrNoPerson or one about the values given,
// or a Redis error — then some kinds may be erased and others not: run it
// again (erasing is idempotent).
func (e *Eraser) Erase(ctx context.Context, p Person, dryRun bool) (Report, error) {
	m, err := newMatcher(p)
	if err != nil {
		return Report{}, err
	}
	rep := Report{DryRun: dryRun, Submissions: map[string]int{}}
	if m.email != "" {
		rep.EmailRef = submission.EmailRef(m.email)
	}
	for pass := 0; pass < 3; pass++ {
		recs, err := e.Store.Find(ctx, m.record)
		if err != nil {
			return rep, err
		}
		if len(recs) == 0 {
			break
		}
		for _, r := range recs {
			if err := e.one(ctx, r, dryRun, &rep); err != nil {
				return rep, err
			}
		}
		if dryRun {
			break
		}
	}
	if rep.Leases, err = forgetLeases(ctx, e.Redis, LeasePrefix, m.leaseKey, !dryRun); err != nil {
		return rep, err
	}
	if rep.AuditEntries, err = e.Audit.Forget(ctx, func(en audit.Entry) bool {
		return m.text(en.By) || m.text(en.Reason) || m.text(en.Detail)
	}, !dryRun); err != nil {
		return rep, err
	}
	if rep.CRMHealth, err = e.Health.Forget(ctx, m.text, !dryRun); err != nil {
		return rep, err
	}
	return rep, nil
}

// one erases (or counts) one submission: its tasks first, so that no worker
// picks one up for a record about to go, then the record and its keys.
func (e *Eraser) one(ctx context.Context, r *submission.Record, dryRun bool, rep *Report) error {
	if dryRun {
		n, err := e.Queue.Holds(r)
		if err != nil {
			return err
		}
		held, err := e.Store.HeldKey(ctx, r)
		if err != nil {
			return err
		}
		rep.Tasks += n
		if held {
			rep.IdempotencyKeys++
		}
		rep.Submissions[r.Status]++
		return nil
	}
	n, running, err := e.Queue.Forget(r)
	if err != nil {
		return err
	}
	rep.Tasks += n
	if running {
		rep.Running++
	}
	gone, err := e.Store.Delete(ctx, r.ID)
	if errors.Is(err, submission.ErrNotFound) {
		return nil // gone meanwhile (retention)
	}
	if err != nil {
		return err
	}
	rep.Submissions[gone.Record.Status]++
	if gone.IdempotencyKey {
		rep.IdempotencyKeys++
	}
	return nil
}

// AuditDetail is the audit log's words for an erasure: the reference of
// the address (never the address) and the counts.
func (r Report) AuditDetail() string {
	ref := "no email address"
	if r.EmailRef != "" {
		ref = "email ref " + r.EmailRef
	}
	return ref + ": " + r.Summary()
}

// Summary is the report in one line, counts only (no address): for the
// audit log, the command's output and logs.
func (r Report) Summary() string {
	verb := "erased"
	if r.DryRun {
		verb = "would erase"
	}
	var by []string
	for _, st := range submission.Statuses {
		if n := r.Submissions[st]; n > 0 {
			by = append(by, fmt.Sprintf("%d %s", n, st))
		}
	}
	subs := fmt.Sprintf("%d submissions", r.Total())
	if len(by) > 0 {
		subs += " (" + strings.Join(by, ", ") + ")"
	}
	s := fmt.Sprintf("%s %s, %d idempotency keys, %d queued tasks, %d lease keys, %d audit entries, %d CRM health notes",
		verb, subs, r.IdempotencyKeys, r.Tasks, r.Leases, r.AuditEntries, r.CRMHealth)
	if r.Running > 0 {
		s += fmt.Sprintf("; %d being delivered right now end by themselves", r.Running)
	}
	return s
}
