package delivery

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/leadbridge/leadbridge/crm"
	"github.com/leadbridge/leadbridge/submission"
)

// Verdict is what the worker must do about a failed delivery attempt.
type Verdict struct {
	// Error says what went wrong, for the record and the admin console.
	Error submission.ErrorInfo
	// Retry: trying again later can succeed on its own. Permanent errors
	// go to the failed list at once; the rest are retried until the horizon.
	Retry bool
	// Throttled: Dataverse's service protection limits. Waiting them out is
	// not a failure, so it does not grow the backoff.
	Throttled bool
	// After is how long to wait before the next attempt when Dataverse said
	// so (Retry-After, capped at crm.MaxRetryAfter); 0 leaves it to the
	// backoff.
	After time.Duration
}

// Classify turns a delivery error into a Verdict: its category in words a
// person can act on, and whether, when and how to try again.
func Classify(err error) Verdict {
	info, retry := classify(err)
	v := Verdict{Error: info, Retry: retry, Throttled: info.Category == submission.CategoryThrottled}
	var api *crm.APIError
	if v.Throttled && errors.As(err, &api) && api.RetryAfter > 0 {
		// Still throttled after the client's own waits: come back when
		// Dataverse said to, with a second to spare.
		v.After = min(api.RetryAfter, crm.MaxRetryAfter) + time.Second
	}
	return v
}

func classify(err error) (info submission.ErrorInfo, retry bool) {
	info.Message = err.Error()
	var api *crm.APIError
	var auth *crm.AuthError
	var netErr *crm.NetError
	var fetchErr *FetchError
	var mapErr *MappingError
	switch {
	case errors.As(err, &fetchErr):
		// Reading a thin webhook lead (fetch.go), before any CRM call.
		info.Category, info.Status, info.Code = fetchErr.Category, fetchErr.Status, fetchErr.Code
		return info, fetchErr.Transient
	case errors.As(err, &mapErr):
		// A lookup's row or the form's owner is missing: nothing changes
		// until a person adds the row or fixes the form.
		info.Category = mapErr.Category
		return info, false
	case errors.Is(err, ErrUnknownForm):
		info.Category = submission.CategoryConfiguration
		return info, false
	case errors.As(err, &api):
		info.Status, info.Code, info.Message = api.Status, api.Code, api.Message
		return classifyAPI(api, info)
	case errors.As(err, &auth):
		info.Status = auth.Status
		if auth.Status == 0 || auth.Status >= 500 || auth.Status == http.StatusTooManyRequests {
			info.Category = submission.CategoryUnavailable
		} else {
			// A refused secret or unknown tenant needs a person, but every
			// submission shares it: keep retrying so that fixing the
			// setting delivers the backlog without a bulk retry.
			info.Category = submission.CategoryAuth
		}
		return info, true
	case errors.As(err, &netErr), crm.IsTimeout(err), errors.Is(err, context.Canceled):
		info.Category = submission.CategoryUnavailable
		return info, true
	}
	// Lease and Redis trouble: nothing reached a verdict, try again.
	info.Category = submission.CategoryUnavailable
	return info, true
}

// classifyAPI decides on the status and the code, and where the code is
// blank — as in several of Microsoft's documented examples, while real orgs
// send hex codes — on the message Microsoft documents for that error.
func classifyAPI(e *crm.APIError, info submission.ErrorInfo) (submission.ErrorInfo, bool) {
	switch {
	case e.Status == http.StatusTooManyRequests:
		info.Category = submission.CategoryThrottled
		return info, true
	case e.Status == http.StatusUnauthorized:
		info.Category = submission.CategoryAuth
		return info, true
	case isDuplicateDetected(e):
		// Duplicate detection refused the row (412, or 500 on older
		// pages): the data, not the moment, is the problem.
		info.Category = submission.CategoryInvalidData
		return info, false
	case e.Status >= 500:
		info.Category = submission.CategoryUnavailable
		return info, true
	case e.Status == http.StatusForbidden || e.Code == crm.CodePrivilegeDenied:
		info.Category = submission.CategoryPermission
		return info, false
	case e.Status == http.StatusNotFound && isRowGone(e):
		// The matched row was deleted between query and update: a new
		// attempt queries again and creates instead.
		info.Category = submission.CategoryUnavailable
		return info, true
	case e.Status == http.StatusNotFound:
		info.Category = submission.CategoryConfiguration // wrong URL or table
		return info, false
	case e.Status == http.StatusPreconditionFailed:
		// A concurrent create won the race on a key, or the row changed
		// under a version check: the next attempt reads it again.
		info.Category = submission.CategoryUnavailable
		return info, true
	case isConfigurationMessage(e):
		info.Category = submission.CategoryConfiguration
		return info, false
	}
	info.Category = submission.CategoryInvalidData
	return info, false
}

// isDuplicateDetected: Dataverse's duplicate detection rules refused the
// row (0x80040333).
func isDuplicateDetected(e *crm.APIError) bool {
	return e.Code == crm.CodeDuplicateDetected ||
		strings.Contains(e.Message, "a duplicate of the current record already exists")
}

// isRowGone: a 404 for a row addressed by id ("lead With Id = … Does Not
// Exist", 0x80040217) or by alternate key ("A record with the specified key
// values does not exist in lead entity", 0x80048d02), as opposed to a 404
// for a table or URL that does not exist.
func isRowGone(e *crm.APIError) bool {
	return e.Code == crm.CodeObjectDoesNotExist || e.Code == crm.CodeKeyDoesNotExist ||
		strings.Contains(e.Message, "Does Not Exist") ||
		strings.Contains(e.Message, "A record with the specified key values does not exist")
}

// isConfigurationMessage spots 400s caused by leadbridge's settings rather
// than by the submitted values: a mapped column or key that the org lacks,
// whether it was written ("Invalid property 'x' was found in entity", as
// Microsoft's troubleshooting page shows it, or the older "does not exist on
// type") or queried with $select or $filter ("Could not find a property
// named").
func isConfigurationMessage(e *crm.APIError) bool {
	m := e.Message
	return e.Code == crm.CodeEntityKeyNotDefined ||
		(strings.Contains(m, "Invalid property '") && strings.Contains(m, "' was found in entity")) ||
		strings.Contains(m, "does not exist on type") ||
		strings.Contains(m, "Could not find a property named") ||
		strings.Contains(m, "are not a defined key for the") ||
		strings.Contains(m, "key in the request URI is not valid") ||
		strings.Contains(m, "Resource not found for the segment")
}
