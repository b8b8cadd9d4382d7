package handlers

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/leadbridge/leadbridge/audit"
	"github.com/leadbridge/leadbridge/submission"
)

// exportMax bounds the rows of one export; the last row says when more
// matched.
const exportMax = 50_000

// csvColumns are the export's fixed columns; the forms' field names follow.
var csvColumns = []string{"id", "status", "origin", "received_at", "changed_at", "category", "http_status", "code", "message", "lead_id", "discard_reason"}

// adminExport is GET /admin/failed.csv: the list's filter as CSV, streamed
// page by page as the store reads it.
func (s *server) adminExport(c echo.Context) error {
	f := parseFilter(c.QueryParam)
	f.Cursor = ""
	q, problem := f.query()
	if problem != "" {
		return echo.NewHTTPError(http.StatusBadRequest, problem)
	}
	q.Limit, q.MaxScan = submission.MaxLimit, submission.MaxScanLimit
	ctx := c.Request().Context()
	// The first page before the headers: an error can still be a page.
	page, err := s.exportPage(ctx, q)
	if err != nil {
		return adminErr(err)
	}
	fields := s.exportFields()
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	h.Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="leadbridge-%s-%s.csv"`, strings.ReplaceAll(f.Status, "/", ""), time.Now().UTC().Format("20060102-1504")))
	c.Response().WriteHeader(http.StatusOK)
	w := csv.NewWriter(c.Response())
	_ = w.Write(append(append([]string{}, csvColumns...), fields...))
	rows := 0
	truncated := false
	for {
		for _, r := range page.Records {
			if rows == exportMax {
				truncated = true
				break
			}
			_ = w.Write(csvRow(r, fields))
			rows++
		}
		w.Flush()
		if truncated || page.Next == "" || w.Error() != nil {
			break
		}
		q.Cursor = page.Next
		if page, err = s.exportPage(ctx, q); err != nil {
			// The status is sent; the file ends with a line that says so.
			s.Log.Error("export cut short", "err", err, "rows", rows, "request_id", requestID(c))
			_ = w.Write([]string{"# the export stopped here: Redis did not answer; export again"})
			break
		}
	}
	if truncated {
		_ = w.Write([]string{fmt.Sprintf("# only the first %d rows: narrow the filter to export the rest", exportMax)})
	}
	w.Flush()
	s.audit(c, session(c), audit.Entry{Action: "export", Detail: fmt.Sprintf("%d rows; filter: %s", rows, f.Describe())})
	s.Log.Info("admin action", "action", "export", "rows", rows, "request_id", requestID(c))
	return nil
}

func (s *server) exportPage(ctx context.Context, q submission.Query) (submission.Page, error) {
	ctx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	return s.Store.Search(ctx, q)
}

// exportFields are the field names of every configured form, each once,
// in the forms' order.
func (s *server) exportFields() []string {
	seen := map[string]bool{}
	var out []string
	for _, id := range s.Forms.IDs() {
		for _, fd := range s.Forms[id].Fields {
			if !seen[fd.Name] {
				seen[fd.Name] = true
				out = append(out, fd.Name)
			}
		}
	}
	return out
}

func csvRow(r *submission.Record, fields []string) []string {
	row := []string{r.ID, r.Status, r.Origin(), r.ReceivedAt.UTC().Format(time.RFC3339), r.UpdatedAt.UTC().Format(time.RFC3339)}
	if e := r.LastError; e != nil {
		status := ""
		if e.Status != 0 {
			status = strconv.Itoa(e.Status)
		}
		row = append(row, e.Category, status, e.Code, e.Message)
	} else {
		row = append(row, "", "", "", "")
	}
	row = append(row, r.LeadID, r.DiscardReason)
	for _, f := range fields {
		row = append(row, r.Fields[f])
	}
	for i, v := range row {
		row[i] = csvSafe(v)
	}
	return row
}

// csvSafe defuses formula injection (OWASP): a cell a spreadsheet would
// run as a formula — starting with =, +, -, @, a tab or a carriage
// return — is prefixed with a quote, so it is shown as text.
func csvSafe(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}
