package emulator

import (
	"net/http"
	"net/textproto"
)

// result is a Web API response before it is written: plain values, so that
// $batch can embed it in a multipart body as easily as the router writes it.
type result struct {
	status int
	header http.Header
	body   []byte
	// entityURI is the row a successful create or update wrote, for $N
	// references in a $batch change set.
	entityURI string
	// apiErr is the error envelope in body, when the result is one.
	apiErr *errorDetail
	// ops is the number of rows a bulk operation message handled, which
	// is what it costs in execution time; 0 for other requests.
	ops int
}

// setRaw sets a header under exactly Dataverse's spelling. Go's canonical
// form would turn OData-EntityId into Odata-Entityid on HTTP/1.1; header
// names are case-insensitive, but a faithful emulator should not rely on
// every client knowing that.
func setRaw(h http.Header, name, value string) {
	delete(h, textproto.CanonicalMIMEHeaderKey(name))
	h[name] = []string{value}
}

// getRaw reads a header set by setRaw (or canonically).
func getRaw(h http.Header, name string) string {
	if v := h[name]; len(v) > 0 {
		return v[0]
	}
	return h.Get(name)
}

func (r *result) failed() bool { return r.status >= 400 }

func newResult(status int) *result { return &result{status: status, header: http.Header{}} }

func jsonResult(status int, v any) *result {
	r := newResult(status)
	r.header.Set("Content-Type", contentTypeJSON)
	r.body = mustJSON(v)
	return r
}

// withoutCode is r with the code of its error envelope blanked
// (Config.BlankErrorCodes), or r itself when it is no error envelope.
func (r *result) withoutCode() *result {
	if r.apiErr == nil || r.apiErr.Code == "" {
		return r
	}
	blank := *r
	detail := *r.apiErr
	detail.Code = ""
	blank.apiErr = &detail
	blank.body = mustJSON(errorBody{Error: detail})
	return &blank
}
