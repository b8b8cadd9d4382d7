package emulator

import (
	"context"
	"net/http"
)

// serveBatch will run a multipart $batch; until then it says so.
func (s *Server) serveBatch(ctx context.Context, req *apiRequest) (*result, int) {
	return apiError(http.StatusNotImplemented, "", "The emulator does not support $batch yet."), 1
}
