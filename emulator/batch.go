package emulator

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
	"time"
)

// $batch (reference §6): multipart/mixed only (the JSON batch format is not
// documented for Dataverse). Operations run in order; a change set is
// atomic, because it holds the store lock throughout and undoes its own
// writes on failure, and its parts may refer to each other's created rows as
// $<Content-ID>.

// maxBatchOperations is Dataverse's limit on operations in one batch.
const maxBatchOperations = 1000

// batchItem is a top-level part: one operation, or a change set of several.
type batchItem struct {
	changeSet bool
	ops       []*batchOp
}

type batchOp struct {
	contentID string
	method    string
	target    string // the request-target as written: absolute, /api/…, relative or $N…
	header    http.Header
	body      []byte
}

// serveBatch runs a $batch and reports the execution time it is charged:
// latency_ms per operation ("each operation within the request is applied
// sequentially on the server, so there's no improved efficiency per
// operation"), a bulk operation message inside it as on its own.
func (s *Server) serveBatch(ctx context.Context, req *apiRequest) (*result, int64) {
	lat := int64(req.cfg.LatencyMS)
	if req.method != http.MethodPost {
		return methodNotAllowed(req.method), lat
	}
	items, n, res := parseBatch(req.header.Get("Content-Type"), req.body)
	if res != nil {
		return res, lat
	}
	if n > maxBatchOperations {
		return badRequest("", fmt.Sprintf("Number of requests in the batch exceeded the limit of %d.", maxBatchOperations)), int64(n) * lat
	}
	execMS := int64(n) * lat
	continueOnError := false
	if v, ok := preferences(req.header)["odata.continue-on-error"]; ok && v != "false" {
		continueOnError = true
	}

	// part keeps a result for the response, blanking its error code when
	// the configuration asks (successful parts have none).
	part := func(contentID string, res *result) batchPart {
		if req.cfg.BlankErrorCodes {
			res = res.withoutCode()
		}
		return batchPart{contentID: contentID, res: res}
	}
	var parts []batchPart
	for _, item := range items {
		if !simulateLatency(ctx, req.cfg.LatencyMS*len(item.ops)) {
			return apiError(http.StatusServiceUnavailable, "", "The client closed the connection."), execMS
		}
		if !item.changeSet {
			op := item.ops[0]
			sub, res := s.batchRequest(req, op, nil)
			if res == nil {
				s.store.mu.Lock()
				res = s.execute(nil, sub)
				s.store.mu.Unlock()
			}
			if extra := opMS(req.cfg, res) - lat; extra > 0 {
				// A bulk operation message inside the batch costs its rows.
				execMS += extra
				if !simulateLatencyMS(ctx, extra) {
					return apiError(http.StatusServiceUnavailable, "", "The client closed the connection."), execMS
				}
			}
			p := part(op.contentID, res)
			if res.failed() && !continueOnError {
				return batchFailure(p), execMS
			}
			parts = append(parts, p)
			continue
		}
		cs, failed, extra := s.runChangeSet(req, item.ops)
		if extra > 0 {
			execMS += extra
			if !simulateLatencyMS(ctx, extra) {
				return apiError(http.StatusServiceUnavailable, "", "The client closed the connection."), execMS
			}
		}
		if failed != nil {
			p := part(failed.contentID, failed.res)
			if !continueOnError {
				return batchFailure(p), execMS
			}
			parts = append(parts, p)
			continue
		}
		parts = append(parts, batchPart{changeSet: cs})
	}
	return batchResponse(http.StatusOK, parts), execMS
}

// runChangeSet executes a change set atomically: every part, or none.
// extraMS is the execution time its bulk operation messages cost beyond the
// latency_ms per operation already waited for.
func (s *Server) runChangeSet(req *apiRequest, ops []*batchOp) (parts []batchPart, failed *batchPart, extraMS int64) {
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	tx := &txn{}
	refs := map[string]string{} // Content-ID → URI of the row it created or changed
	for _, op := range ops {
		var res *result
		if op.method == http.MethodGet {
			res = badRequest("", "GET requests are not allowed in a change set.")
		}
		var sub *apiRequest
		if res == nil {
			sub, res = s.batchRequest(req, op, refs)
		}
		if res == nil {
			res = s.execute(tx, sub)
		}
		extraMS += opMS(req.cfg, res) - int64(req.cfg.LatencyMS)
		if res.failed() {
			tx.rollback()
			return nil, &batchPart{contentID: op.contentID, res: res}, extraMS
		}
		if op.contentID != "" && res.entityURI != "" {
			refs[op.contentID] = res.entityURI
		}
		parts = append(parts, batchPart{contentID: op.contentID, res: res})
	}
	return parts, nil, extraMS
}

// batchRequest turns a part into an operation, resolving $N references
// (refs is nil outside change sets, where there are none).
func (s *Server) batchRequest(outer *apiRequest, op *batchOp, refs map[string]string) (*apiRequest, *result) {
	target := op.target
	if strings.HasPrefix(target, "$") {
		id, rest, _ := strings.Cut(target[1:], "/")
		uri, ok := refs[id]
		if !ok {
			return nil, badRequest("", fmt.Sprintf("Content-ID Reference: '$%s' does not exist in the batch context.", id))
		}
		target = uri
		if rest != "" {
			target += "/" + rest
		}
	}
	u, err := url.Parse(target)
	if err != nil {
		return nil, badRequest(codeQuery, fmt.Sprintf("The request URI '%s' in the batch is not valid.", op.target))
	}
	path := u.Path
	switch {
	case u.IsAbs() || strings.HasPrefix(path, "/"):
		p, ok := strings.CutPrefix(path, apiPrefix)
		if !ok {
			return nil, apiError(http.StatusNotFound, codeQuery, fmt.Sprintf("The request URI '%s' in the batch is not under %s.", op.target, apiPrefix))
		}
		path = p
	}
	body := op.body
	if refs != nil && len(body) > 0 {
		var res *result
		if body, res = resolveBindRefs(body, refs); res != nil {
			return nil, res
		}
	}
	return &apiRequest{
		method:   op.method,
		path:     path,
		rawQuery: u.RawQuery,
		header:   op.header,
		body:     body,
		root:     outer.root,
		cfg:      outer.cfg,
		now:      time.Now(),
	}, nil
}

// resolveBindRefs replaces "$N" values of @odata.bind members, and of the
// @odata.id of a $ref body, with the URI of the row part N created.
func resolveBindRefs(body []byte, refs map[string]string) ([]byte, *result) {
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		return body, nil // let the operation report the malformed body
	}
	changed := false
	for k, v := range m {
		ref, ok := v.(string)
		if !ok || !(strings.HasSuffix(k, "@odata.bind") || k == "@odata.id") || !strings.HasPrefix(ref, "$") {
			continue
		}
		uri, ok := refs[ref[1:]]
		if !ok {
			return nil, badRequest("", fmt.Sprintf("Content-ID Reference: '%s' does not exist in the batch context.", ref))
		}
		m[k] = uri
		changed = true
	}
	if !changed {
		return body, nil
	}
	return mustJSON(m), nil
}

// ---- parsing -------------------------------------------------------------

func parseBatch(contentType string, body []byte) ([]batchItem, int, *result) {
	boundary, res := multipartBoundary(contentType)
	if res != nil {
		return nil, 0, res
	}
	var items []batchItem
	n := 0
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, 0, batchSyntax(err)
		}
		if strings.HasPrefix(strings.ToLower(p.Header.Get("Content-Type")), "multipart/mixed") {
			csBoundary, res := multipartBoundary(p.Header.Get("Content-Type"))
			if res != nil {
				return nil, 0, res
			}
			item := batchItem{changeSet: true}
			cr := multipart.NewReader(p, csBoundary)
			for {
				cp, err := cr.NextPart()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					return nil, 0, batchSyntax(err)
				}
				op, res := parseOperation(cp)
				if res != nil {
					return nil, 0, res
				}
				item.ops = append(item.ops, op)
			}
			if len(item.ops) > 0 {
				items = append(items, item)
				n += len(item.ops)
			}
			continue
		}
		op, res := parseOperation(p)
		if res != nil {
			return nil, 0, res
		}
		items = append(items, batchItem{ops: []*batchOp{op}})
		n++
	}
	if n == 0 {
		return nil, 0, badRequest("", "The batch request holds no operations.")
	}
	return items, n, nil
}

func multipartBoundary(contentType string) (string, *result) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "multipart/mixed" || params["boundary"] == "" {
		return "", badRequest("", fmt.Sprintf("The batch request must have a Content-Type of multipart/mixed with a boundary; got %q.", contentType))
	}
	return params["boundary"], nil
}

func batchSyntax(err error) *result {
	return badRequest("", "The batch request body is not valid multipart/mixed: "+err.Error())
}

// parseOperation reads an application/http part: a request line, headers,
// a blank line and the body. net/http's ReadRequest would refuse the
// relative and $N targets batches use, hence this small reader.
func parseOperation(p *multipart.Part) (*batchOp, *result) {
	raw, err := io.ReadAll(p)
	if err != nil {
		return nil, batchSyntax(err)
	}
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(raw)))
	line, err := tp.ReadLine()
	for err == nil && strings.TrimSpace(line) == "" {
		line, err = tp.ReadLine() // tolerate blank lines before the request line
	}
	if err != nil {
		return nil, badRequest("", "A batch part holds no request line.")
	}
	fields := strings.Fields(line)
	if len(fields) != 3 || !strings.HasPrefix(fields[2], "HTTP/") {
		return nil, badRequest("", fmt.Sprintf("The batch part request line %q is not 'METHOD URI HTTP/1.1'.", line))
	}
	hdr, err := tp.ReadMIMEHeader()
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, badRequest("", "The headers of a batch part are malformed: "+err.Error())
	}
	body, _ := io.ReadAll(tp.R)
	op := &batchOp{
		method: strings.ToUpper(fields[0]),
		target: fields[1],
		header: http.Header(hdr),
		body:   bytes.TrimRight(body, "\r\n"),
	}
	op.contentID = p.Header.Get("Content-ID")
	if op.contentID == "" {
		op.contentID = op.header.Get("Content-ID")
	}
	return op, nil
}

// ---- response ----------------------------------------------------------

// batchPart is one part of the response: an operation's result, or a
// change set's results.
type batchPart struct {
	contentID string
	res       *result
	changeSet []batchPart
}

// batchFailure is the default error behaviour: the batch stops, and its
// status and only part are the failed operation's.
func batchFailure(p batchPart) *result {
	return batchResponse(p.res.status, []batchPart{p})
}

func batchResponse(status int, parts []batchPart) *result {
	boundary := "batchresponse_" + newGUID()
	var b bytes.Buffer
	for _, p := range parts {
		b.WriteString("--" + boundary + "\r\n")
		if p.changeSet == nil {
			writeHTTPPart(&b, p)
			continue
		}
		cs := "changesetresponse_" + newGUID()
		b.WriteString("Content-Type: multipart/mixed; boundary=" + cs + "\r\n\r\n")
		for _, cp := range p.changeSet {
			b.WriteString("--" + cs + "\r\n")
			writeHTTPPart(&b, cp)
		}
		b.WriteString("--" + cs + "--\r\n")
	}
	b.WriteString("--" + boundary + "--\r\n")
	r := newResult(status)
	r.header.Set("Content-Type", "multipart/mixed; boundary="+boundary)
	r.body = b.Bytes()
	return r
}

func writeHTTPPart(b *bytes.Buffer, p batchPart) {
	b.WriteString("Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n")
	if p.contentID != "" {
		b.WriteString("Content-ID: " + p.contentID + "\r\n")
	}
	res := p.res
	fmt.Fprintf(b, "\r\nHTTP/1.1 %d %s\r\n", res.status, http.StatusText(res.status))
	h := res.header.Clone()
	setRaw(h, "OData-Version", "4.0")
	if res.failed() {
		setRaw(h, "REQ_ID", newGUID())
	}
	if id := getRaw(h, "OData-EntityId"); id != "" {
		h.Set("Location", id)
	}
	if ct := h.Get("Content-Type"); ct == contentTypeJSON && res.status == http.StatusOK {
		h.Set("Content-Type", contentTypeJSONStreaming)
	}
	keys := slices.Sorted(maps.Keys(h))
	for _, k := range keys {
		for _, v := range h[k] {
			b.WriteString(k + ": " + v + "\r\n")
		}
	}
	// The blank line ends the headers; the CRLF after the (maybe empty)
	// body belongs to the next delimiter.
	b.WriteString("\r\n")
	b.Write(res.body)
	b.WriteString("\r\n")
}
