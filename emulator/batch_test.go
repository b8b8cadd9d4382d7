package emulator

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
)

// batchBuilder writes a multipart/mixed $batch body the way the Dataverse
// docs show it.
type batchBuilder struct {
	b strings.Builder
	n int
}

const testBoundary = "batch_AAA123"

func (bb *batchBuilder) op(method, target, body string, headers ...string) *batchBuilder {
	bb.b.WriteString("--" + testBoundary + "\r\n")
	bb.part(method, target, body, "", headers...)
	return bb
}

func (bb *batchBuilder) part(method, target, body, contentID string, headers ...string) {
	bb.b.WriteString("Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n")
	if contentID != "" {
		bb.b.WriteString("Content-ID: " + contentID + "\r\n")
	}
	fmt.Fprintf(&bb.b, "\r\n%s %s HTTP/1.1\r\n", method, target)
	if body != "" {
		bb.b.WriteString("Content-Type: application/json; type=entry\r\n")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		bb.b.WriteString(headers[i] + ": " + headers[i+1] + "\r\n")
	}
	bb.b.WriteString("\r\n" + body + "\r\n")
}

// changeSet adds a change set whose parts get Content-IDs 1, 2, ...
// Each op is method, target, body, then header name, value pairs.
func (bb *batchBuilder) changeSetOf(ops ...[]string) *batchBuilder {
	bb.n++
	cs := fmt.Sprintf("changeset_%d", bb.n)
	bb.b.WriteString("--" + testBoundary + "\r\nContent-Type: multipart/mixed; boundary=\"" + cs + "\"\r\n\r\n")
	for i, op := range ops {
		bb.b.WriteString("--" + cs + "\r\n")
		bb.part(op[0], op[1], op[2], fmt.Sprint(i+1), op[3:]...)
	}
	bb.b.WriteString("--" + cs + "--\r\n")
	return bb
}

func (bb *batchBuilder) body() string { return bb.b.String() + "--" + testBoundary + "--\r\n" }

type batchRespPart struct {
	contentID string
	status    int
	header    http.Header
	body      string
	changeSet bool
}

func (h *harness) batch(body string, headers ...string) (*http.Response, []batchRespPart) {
	h.t.Helper()
	headers = append(headers, "Content-Type", `multipart/mixed; boundary="`+testBoundary+`"`)
	req, err := http.NewRequest(http.MethodPost, h.srv.URL()+apiPrefix+"$batch", strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+h.token)
	req.Header.Set("OData-Version", "4.0")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, raw := h.send(req)
	mt, params, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt != "multipart/mixed" {
		return resp, nil
	}
	return resp, parseBatchParts(h.t, string(raw), params["boundary"], false)
}

func parseBatchParts(t *testing.T, raw, boundary string, inChangeSet bool) []batchRespPart {
	t.Helper()
	var out []batchRespPart
	mr := multipart.NewReader(strings.NewReader(raw), boundary)
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("batch response: %v\n%s", err, raw)
		}
		mt, params, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if mt == "multipart/mixed" {
			if !strings.HasPrefix(params["boundary"], "changesetresponse_") {
				t.Errorf("change set boundary %q, want changesetresponse_<guid>", params["boundary"])
			}
			inner, _ := io.ReadAll(p)
			for _, ip := range parseBatchParts(t, string(inner), params["boundary"], true) {
				ip.changeSet = true
				out = append(out, ip)
			}
			continue
		}
		resp, err := http.ReadResponse(bufio.NewReader(p), nil)
		if err != nil {
			t.Fatalf("batch response part: %v\n%s", err, raw)
		}
		b, _ := io.ReadAll(resp.Body)
		out = append(out, batchRespPart{contentID: p.Header.Get("Content-ID"), status: resp.StatusCode, header: resp.Header, body: strings.TrimSpace(string(b))})
	}
}

func TestBatch(t *testing.T) {
	h := start(t, nil)
	existing := h.create("leads", map[string]any{"lastname": "Existing"})

	t.Run("GET, change set with references, plain creates", func(t *testing.T) {
		h := h.sub(t)
		body := (&batchBuilder{}).
			op("GET", "leads("+existing+")?$select=lastname", "", "Accept", "application/json").
			changeSetOf(
				[]string{"POST", apiPrefix + "contacts", `{"lastname":"Batch"}`},
				[]string{"POST", h.srv.URL() + apiPrefix + "leads", `{"lastname":"Bound","parentcontactid@odata.bind":"$1"}`},
				[]string{"PATCH", "$1", `{"firstname":"Bea"}`},
			).
			op("POST", "leads", `{"lastname":"Plain"}`).
			body()
		resp, parts := h.batch(body)
		if resp.StatusCode != http.StatusOK || len(parts) != 5 {
			t.Fatalf("got status %d with %d parts, want 200 with 5", resp.StatusCode, len(parts))
		}
		get := parts[0]
		if get.status != 200 || !strings.Contains(get.body, existing) || get.header.Get("Content-Type") != contentTypeJSONStreaming {
			t.Errorf("GET part: got %d %q %s", get.status, get.header.Get("Content-Type"), get.body)
		}
		for i, p := range parts[1:4] {
			if !p.changeSet || p.contentID != fmt.Sprint(i+1) || p.status != 204 {
				t.Errorf("change set part %d: got changeSet=%v Content-ID %q status %d, want true %d 204", i, p.changeSet, p.contentID, p.status, i+1)
			}
		}
		contactURI := parts[1].header.Get("OData-EntityId")
		if contactURI == "" || parts[1].header.Get("Location") != contactURI {
			t.Errorf("create part: OData-EntityId %q, Location %q; want both the new row", contactURI, parts[1].header.Get("Location"))
		}
		if parts[3].header.Get("OData-EntityId") != contactURI {
			t.Errorf("PATCH $1 wrote %q, want the contact %q", parts[3].header.Get("OData-EntityId"), contactURI)
		}
		contact := strings.TrimSuffix(contactURI[strings.Index(contactURI, "(")+1:], ")")
		leadURI := parts[2].header.Get("OData-EntityId")
		lead := strings.TrimSuffix(leadURI[strings.Index(leadURI, "(")+1:], ")")
		_, got := h.api(http.MethodGet, "leads("+lead+")?$select=_parentcontactid_value", nil)
		if object(t, got)["_parentcontactid_value"] != contact {
			t.Errorf("lead bound to %v, want the contact %s made in the same change set", object(t, got)["_parentcontactid_value"], contact)
		}
		_, got = h.api(http.MethodGet, "contacts("+contact+")?$select=firstname", nil)
		if object(t, got)["firstname"] != "Bea" {
			t.Errorf("PATCH $1 did not update the contact: %s", got)
		}
		if p := parts[4]; p.changeSet || p.status != 204 {
			t.Errorf("plain create part: got %+v", p)
		}
	})

	countLeads := func() string {
		_, b := h.api(http.MethodGet, "leads/$count", nil)
		return string(b)
	}

	t.Run("failed change set rolls back and stops the batch", func(t *testing.T) {
		h := h.sub(t)
		before := countLeads()
		body := (&batchBuilder{}).
			changeSetOf(
				[]string{"POST", "leads", `{"lastname":"Doomed"}`},
				[]string{"POST", "leads", `{"lastname":"Bad","nosuchcolumn":1}`},
			).
			op("POST", "leads", `{"lastname":"Never"}`).
			body()
		resp, parts := h.batch(body)
		if resp.StatusCode != http.StatusBadRequest || len(parts) != 1 {
			t.Fatalf("got status %d with %d parts, want 400 with only the failed part", resp.StatusCode, len(parts))
		}
		if p := parts[0]; p.status != 400 || p.contentID != "2" || p.header.Get("REQ_ID") == "" || !strings.Contains(p.body, "Invalid property 'nosuchcolumn'") {
			t.Errorf("failed part: got %+v", p)
		}
		if after := countLeads(); after != before {
			t.Errorf("leads: got %s after the failed batch, want %s (rolled back, and nothing after it run)", after, before)
		}
	})

	t.Run("continue-on-error", func(t *testing.T) {
		h := h.sub(t)
		before := countLeads()
		body := (&batchBuilder{}).
			op("POST", "leads", `{"lastname":"Bad","nosuchcolumn":1}`).
			changeSetOf([]string{"POST", "leads", `{"lastname":"x"}`}, []string{"PATCH", "leads(" + newGUID() + ")", `{"lastname":"y"}`, "If-Match", "*"}).
			op("POST", "leads", `{"lastname":"After"}`).
			body()
		resp, parts := h.batch(body, "Prefer", "odata.continue-on-error")
		if resp.StatusCode != http.StatusOK || len(parts) != 3 {
			t.Fatalf("got status %d with %d parts, want 200 with 3", resp.StatusCode, len(parts))
		}
		// The change set fails as one part (its create rolled back); the
		// batch goes on past both failures.
		if parts[0].status != 400 || parts[1].status != 404 || parts[1].contentID != "2" || parts[2].status != 204 {
			t.Errorf("statuses: got %d %d (Content-ID %q) %d, want 400 404 (2) 204", parts[0].status, parts[1].status, parts[1].contentID, parts[2].status)
		}
		var b, a int
		fmt.Sscan(before, &b)
		fmt.Sscan(countLeads(), &a)
		if a != b+1 {
			t.Errorf("leads: got %d after the batch, want %d (only the last create)", a, b+1)
		}
	})

	errs := []struct {
		name string
		body string
		msg  string
	}{
		{name: "undeclared reference", body: (&batchBuilder{}).changeSetOf([]string{"POST", "leads", `{"lastname":"x","parentcontactid@odata.bind":"$9"}`}).body(),
			msg: "Content-ID Reference: '$9' does not exist in the batch context."},
		{name: "GET in a change set", body: (&batchBuilder{}).changeSetOf([]string{"GET", "leads", ""}).body(),
			msg: "GET requests are not allowed in a change set."},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			h := h.sub(t)
			resp, parts := h.batch(tt.body)
			if resp.StatusCode != http.StatusBadRequest || len(parts) != 1 || !strings.Contains(parts[0].body, tt.msg) {
				t.Errorf("got status %d, parts %+v; want 400 with %q", resp.StatusCode, parts, tt.msg)
			}
		})
	}

	t.Run("at most 1000 operations", func(t *testing.T) {
		h := h.sub(t)
		bb := &batchBuilder{}
		for range 1001 {
			bb.op("GET", "WhoAmI", "")
		}
		req, _ := http.NewRequest(http.MethodPost, h.srv.URL()+apiPrefix+"$batch", strings.NewReader(bb.body()))
		req.Header.Set("Authorization", "Bearer "+h.token)
		req.Header.Set("Content-Type", "multipart/mixed; boundary="+testBoundary)
		resp, body := h.send(req)
		if msg := wantError(t, resp, body, http.StatusBadRequest, ""); msg != "Number of requests in the batch exceeded the limit of 1000." {
			t.Errorf("message: got %q", msg)
		}
	})
}

// TestBatchAgainstLimits: a batch is one request for the request facet but
// every operation costs execution time, and a throttled batch gets a plain
// JSON 429.
func TestBatchAgainstLimits(t *testing.T) {
	h := start(t, &Config{LatencyMS: 1, Limits: Limits{RequestsPerWindow: 2, ExecutionMSPerWindow: 100_000, WindowSeconds: 300}})
	body := (&batchBuilder{}).op("GET", "WhoAmI", "").op("GET", "WhoAmI", "").op("GET", "WhoAmI", "").body()
	resp, parts := h.batch(body)
	if resp.StatusCode != http.StatusOK || len(parts) != 3 {
		t.Fatalf("got status %d with %d parts, want 200 with 3", resp.StatusCode, len(parts))
	}
	if got := resp.Header.Get("x-ms-ratelimit-burst-remaining-xrm-requests"); got != "1" {
		t.Errorf("burst remaining after a 3-operation batch: got %q, want 1 (the batch counts once)", got)
	}
	eventually(t, "execution charged", func() bool {
		h.srv.limiter.mu.Lock()
		defer h.srv.limiter.mu.Unlock()
		return h.srv.limiter.users[DefaultClientID].execSum == 3
	})

	h.api(http.MethodGet, "WhoAmI", nil) // the window's second request
	resp, _ = h.batch(body)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Content-Type") != contentTypeJSON || resp.Header.Get("Retry-After") == "" {
		t.Errorf("throttled batch: got %d %q Retry-After %q, want a plain JSON 429 with Retry-After",
			resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Retry-After"))
	}
}
