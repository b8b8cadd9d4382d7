package crm

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// Calls that handle many rows in one request: the bulk operation messages
// (CreateMultiple, UpdateMultiple) and $batch, plus the In() filter that
// finds many people with one query. Each counts as one request against the
// request-count limit and costs the execution time of all its rows.

// In is Microsoft.Dynamics.CRM.In(PropertyName='column',PropertyValues=[…]):
// the rows whose column equals one of values (case-insensitively for
// text, as every Dataverse string comparison). The values are written as
// JSON strings in double quotes: a single-quoted value holding an
// apostrophe is refused by Dataverse's JSON reader (dataverse.md §4).
func In(column string, values []string) Filter {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(values) // []string always encodes
	return Filter("Microsoft.Dynamics.CRM.In(PropertyName=" + Quote(column) + ",PropertyValues=" + strings.TrimSpace(b.String()) + ")")
}

// Budget is what a response said about the caller's remaining capacity
// (the x-ms-ratelimit-* headers, "intended for debugging"; their format is
// not documented, so an unreadable one is simply not known).
type Budget struct {
	ExecLeft      time.Duration // combined execution time left in the window
	ExecKnown     bool
	RequestsLeft  int
	RequestsKnown bool
}

// budgetOf reads the capacity headers of a response.
func budgetOf(h http.Header) Budget {
	var b Budget
	if v := strings.TrimSpace(h.Get("x-ms-ratelimit-time-remaining-xrm-requests")); v != "" {
		if secs, err := strconv.ParseFloat(strings.ReplaceAll(v, ",", ""), 64); err == nil && secs >= 0 {
			b.ExecLeft, b.ExecKnown = time.Duration(secs*float64(time.Second)), true
		}
	}
	if v := strings.TrimSpace(h.Get("x-ms-ratelimit-burst-remaining-xrm-requests")); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			b.RequestsLeft, b.RequestsKnown = n, true
		}
	}
	return b
}

// entityType is the @odata.type of a row of an entity set leadbridge writes
// in bulk.
var entityType = map[string]string{
	"leads":    "Microsoft.Dynamics.CRM.lead",
	"contacts": "Microsoft.Dynamics.CRM.contact",
}

// FindLeadsBudget is FindLeads that also returns what the answer said of
// the remaining capacity.
func (c *Client) FindLeadsBudget(ctx context.Context, q Query) ([]Row, Budget, error) {
	rows, b, err := c.listBudget(ctx, "leads", q)
	if err != nil {
		return nil, b, fmt.Errorf("crm: find leads: %w", err)
	}
	return rows, b, nil
}

// FindContactsBudget is FindContacts that also returns the capacity left.
func (c *Client) FindContactsBudget(ctx context.Context, q Query) ([]Row, Budget, error) {
	rows, b, err := c.listBudget(ctx, "contacts", q)
	if err != nil {
		return nil, b, fmt.Errorf("crm: find contacts: %w", err)
	}
	return rows, b, nil
}

func (c *Client) listBudget(ctx context.Context, set string, q Query) ([]Row, Budget, error) {
	resp, err := c.do(ctx, request{method: http.MethodGet, path: set, query: q.encode()})
	if err != nil {
		return nil, Budget{}, err
	}
	var body struct {
		Value []Row `json:"value"`
	}
	if err := json.Unmarshal(resp.body, &body); err != nil {
		return nil, Budget{}, fmt.Errorf("decode %s: %w", set, err)
	}
	return body.Value, budgetOf(resp.header), nil
}

// CreateMultiple creates rows of one table (set: "leads" or "contacts") in
// one request, each with the primary key the caller put in it, so that a
// create whose answer was lost is found by its key, never made twice. On a
// standard table the message is all or nothing: one refused row refuses the
// request, and its error is that row's.
func (c *Client) CreateMultiple(ctx context.Context, set string, rows []Row) (Budget, error) {
	return c.multiple(ctx, set, "CreateMultiple", rows)
}

// UpdateMultiple updates rows of one table in one request; each row names
// itself by its primary key. All or nothing, as CreateMultiple.
func (c *Client) UpdateMultiple(ctx context.Context, set string, rows []Row) (Budget, error) {
	return c.multiple(ctx, set, "UpdateMultiple", rows)
}

func (c *Client) multiple(ctx context.Context, set, message string, rows []Row) (Budget, error) {
	typ, ok := entityType[set]
	if !ok {
		return Budget{}, fmt.Errorf("crm: %s: no bulk writes to %s", message, set)
	}
	targets := make([]Row, len(rows))
	for i, r := range rows {
		t := make(Row, len(r)+1)
		for k, v := range r {
			t[k] = v
		}
		t["@odata.type"] = typ
		targets[i] = t
	}
	resp, err := c.do(ctx, request{
		method: http.MethodPost, path: set + "/Microsoft.Dynamics.CRM." + message,
		body: map[string]any{"Targets": targets},
	})
	if err != nil {
		return Budget{}, fmt.Errorf("crm: %s %s: %w", message, set, err)
	}
	return budgetOf(resp.header), nil
}

// BatchOp is one operation of a $batch: a request relative to the Web API
// root ("leads(<id>)"), with its body and extra headers.
type BatchOp struct {
	Method string
	Path   string // relative, already escaped; or "$<n>" for a row made earlier in the change set
	Header http.Header
	Body   Row
}

// BatchResult is what one operation of a $batch came to: its status and,
// for a failure, the error as a single request would have returned it.
type BatchResult struct {
	Status int
	Err    error // *APIError for a refused operation; nil on success
}

// Batch sends groups of operations in one $batch with Prefer:
// odata.continue-on-error: each group of more than one operation is a
// change set (all of it is written, or none), and a failed group does not
// stop the others. It returns one result per operation, in order; the
// operations of a refused change set share its error (the part that failed
// is the one Dataverse names, the others were rolled back). The error is
// for the batch as a whole: throttled, unreachable, refused outright.
func (c *Client) Batch(ctx context.Context, groups [][]BatchOp) ([][]BatchResult, Budget, error) {
	body, ctype, ids := encodeBatch(c.base, groups)
	resp, err := c.do(ctx, request{
		method: http.MethodPost, path: "$batch", raw: body,
		header: http.Header{"Content-Type": {ctype}, "Prefer": {"odata.continue-on-error"}},
	})
	if err != nil {
		return nil, Budget{}, fmt.Errorf("crm: $batch: %w", err)
	}
	parts, err := decodeBatch(resp.header.Get("Content-Type"), resp.body)
	if err != nil {
		return nil, Budget{}, fmt.Errorf("crm: $batch: %w", err)
	}
	byID := map[string]batchPart{}
	for _, p := range parts {
		byID[p.contentID] = p
	}
	out := make([][]BatchResult, len(groups))
	for g, ops := range groups {
		out[g] = make([]BatchResult, len(ops))
		var failed *batchPart
		for i := range ops {
			if p, ok := byID[ids[g][i]]; ok && p.status >= 400 {
				failed = &p
			}
		}
		for i := range ops {
			p, ok := byID[ids[g][i]]
			switch {
			case failed != nil:
				out[g][i] = BatchResult{Status: failed.status, Err: failed.err}
			case !ok:
				// No answer for it: the batch stopped before it.
				out[g][i] = BatchResult{Err: errors.New("crm: $batch: no answer for an operation")}
			default:
				out[g][i] = BatchResult{Status: p.status}
			}
		}
	}
	return out, budgetOf(resp.header), nil
}

// encodeBatch writes groups as a multipart/mixed $batch body. Every
// operation gets a Content-ID unique in the batch ("<group>.<index>" is not
// allowed, so a running number), by which its answer is found.
func encodeBatch(base string, groups [][]BatchOp) ([]byte, string, [][]string) {
	boundary := "batch_" + randomHex()
	var b bytes.Buffer
	ids := make([][]string, len(groups))
	n := 0
	writeOp := func(w io.Writer, op BatchOp, id string) {
		fmt.Fprintf(w, "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: %s\r\n\r\n", id)
		target := op.Path
		if !strings.HasPrefix(target, "$") {
			target = strings.TrimPrefix(base, "https://")
			target = target[strings.Index(target, "/"):] + op.Path
		}
		fmt.Fprintf(w, "%s %s HTTP/1.1\r\n", op.Method, target)
		for k, vs := range op.Header {
			for _, v := range vs {
				fmt.Fprintf(w, "%s: %s\r\n", k, v)
			}
		}
		if op.Body != nil {
			data, _ := json.Marshal(op.Body)
			fmt.Fprintf(w, "Content-Type: application/json; type=entry\r\n\r\n%s\r\n", data)
			return
		}
		fmt.Fprint(w, "\r\n")
	}
	for g, ops := range groups {
		ids[g] = make([]string, len(ops))
		for i := range ops {
			n++
			ids[g][i] = strconv.Itoa(n)
		}
		b.WriteString("--" + boundary + "\r\n")
		if len(ops) == 1 {
			writeOp(&b, ops[0], ids[g][0])
			continue
		}
		cs := "changeset_" + randomHex()
		b.WriteString("Content-Type: multipart/mixed; boundary=" + cs + "\r\n\r\n")
		for i, op := range ops {
			b.WriteString("--" + cs + "\r\n")
			writeOp(&b, op, ids[g][i])
		}
		b.WriteString("--" + cs + "--\r\n")
	}
	b.WriteString("--" + boundary + "--\r\n")
	return b.Bytes(), "multipart/mixed; boundary=" + boundary, ids
}

func randomHex() string {
	var r [12]byte
	_, _ = rand.Read(r[:])
	return hex.EncodeToString(r[:])
}

// batchPart is one answered operation of a $batch response.
type batchPart struct {
	contentID string
	status    int
	err       error
}

// decodeBatch reads a multipart/mixed $batch response, change sets
// flattened, each operation by its Content-ID.
func decodeBatch(contentType string, body []byte) ([]batchPart, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "multipart/mixed" || params["boundary"] == "" {
		return nil, fmt.Errorf("answer is not multipart/mixed (%q)", contentType)
	}
	var out []batchPart
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read answer: %w", err)
		}
		if ct := p.Header.Get("Content-Type"); strings.HasPrefix(strings.ToLower(ct), "multipart/mixed") {
			data, err := io.ReadAll(p)
			if err != nil {
				return nil, fmt.Errorf("read change set answer: %w", err)
			}
			inner, err := decodeBatch(ct, data)
			if err != nil {
				return nil, err
			}
			out = append(out, inner...)
			continue
		}
		bp, err := decodeOperation(p.Header, p)
		if err != nil {
			return nil, err
		}
		out = append(out, bp)
	}
}

func decodeOperation(h textproto.MIMEHeader, r io.Reader) (batchPart, error) {
	hr, err := http.ReadResponse(bufio.NewReader(r), nil)
	if err != nil {
		return batchPart{}, fmt.Errorf("read an operation's answer: %w", err)
	}
	defer hr.Body.Close()
	data, err := io.ReadAll(io.LimitReader(hr.Body, 1<<20))
	if err != nil {
		return batchPart{}, fmt.Errorf("read an operation's answer: %w", err)
	}
	id := h.Get("Content-ID")
	if id == "" {
		id = hr.Header.Get("Content-ID")
	}
	bp := batchPart{contentID: id, status: hr.StatusCode}
	if hr.StatusCode >= 400 {
		bp.err = parseAPIError(&response{status: hr.StatusCode, header: hr.Header, body: data})
	}
	return bp, nil
}

// Budget asks Dataverse for the capacity left with the cheapest request
// there is (WhoAmI), for a caller that has waited for the execution-time
// budget and has no fresher answer to read it from.
func (c *Client) Budget(ctx context.Context) (Budget, error) {
	resp, err := c.do(ctx, request{method: http.MethodGet, path: "WhoAmI"})
	if err != nil {
		return Budget{}, fmt.Errorf("crm: WhoAmI: %w", err)
	}
	return budgetOf(resp.header), nil
}
