package loadgen

import (
	"io"
	"net/http"

	"github.com/redis/go-redis/v9"
)

// ReferenceKey is the list the reference server pushes bodies onto.
const ReferenceKey = "loadgen:reference"

// Reference is the least an HTTP intake can do to keep a submission: read
// the body and make it durable with one Redis LPUSH, then answer 202. A GET answers 200 (for readiness checks). It
// validates nothing and queues nothing; it is the yardstick leadbridge's
// intake is measured against (same load, same Redis settings).
func Reference(rdb *redis.Client, maxBody int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			_, _ = io.WriteString(w, "ok\n") // ready
			return
		}
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			http.Error(w, "body too large or unreadable", http.StatusBadRequest)
			return
		}
		if err := rdb.LPush(r.Context(), ReferenceKey, body).Err(); err != nil {
			http.Error(w, "not stored", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"status":"accepted"}`)
	})
}
