package submission

import (
	"context"
	"time"
)

// Fetch says where a thin webhook lead — one whose delivery carried ids
// only (Meta's leadgen_id, a HubSpot CRM event's objectId) — is read from.
// Intake stores it with empty Fields; the worker reads the lead, records
// its fields with Fetched, then delivers it.
type Fetch struct {
	From string `json:"from"` // webhook.FetchMetaGraph or webhook.FetchHubSpotCRM
	ID   string `json:"id"`   // the platform's lead or object id

	Page   string `json:"page,omitempty"`   // Meta: page_id
	Form   string `json:"form,omitempty"`   // Meta: form_id
	Ad     string `json:"ad,omitempty"`     // Meta: ad_id
	Portal string `json:"portal,omitempty"` // HubSpot: portalId
	Object string `json:"object,omitempty"` // HubSpot: object type ("contact")

	// FetchedAt is when the worker read the lead; from then on the record's
	// Fields are the lead (a retry, or a person's edit, does not read it
	// again).
	FetchedAt *time.Time `json:"fetched_at,omitempty"`
}

// Done reports whether the lead has been read.
func (f *Fetch) Done() bool { return f == nil || f.FetchedAt != nil }

// Fetched records the fields attempt read from the platform for a thin
// lead, valid or not (an admin sees and can fix invalid ones). Like every
// result of an attempt, it is ErrSuperseded when a newer attempt owns the
// submission.
func (s *Store) Fetched(ctx context.Context, id, attempt string, fields map[string]string) (*Record, error) {
	return s.ownAttempt(ctx, id, attempt, "fetched", func(r *Record, now time.Time) {
		r.Fields = fields
		if r.Fetch == nil {
			r.Fetch = &Fetch{}
		}
		r.Fetch.FetchedAt = &now
	})
}
