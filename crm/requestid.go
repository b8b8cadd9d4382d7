package crm

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"fmt"
	"strings"
)

// Every Web API call carries a client request id in x-ms-client-request-id,
// the header Microsoft's own Dataverse clients send, so that a call can be
// found in the organisation's diagnostics and in support cases. A call made
// for a submission carries the id its intake request was given, turned into
// the GUID the header expects; other calls (WhoAmI at start) get a fresh
// random one.

type requestIDKey struct{}

// WithRequestID returns a context whose Dataverse calls carry requestID as
// their client request id: as is when it is a GUID, else as the GUID
// ClientRequestID derives from it. An empty id changes nothing.
func WithRequestID(ctx context.Context, requestID string) context.Context {
	if requestID == "" {
		return ctx
	}
	return context.WithValue(ctx, requestIDKey{}, requestID)
}

// RequestIDFrom returns the request id WithRequestID put in ctx, or "".
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// requestIDNamespace is the UUID namespace of the version 5 GUIDs derived
// from request ids that are not GUIDs themselves. It is fixed, so that
// anyone can compute the GUID of an id (uuid.NewSHA1(namespace, []byte(id))
// in Go) and look for it in Dataverse's diagnostics.
var requestIDNamespace = [16]byte{0x6c, 0x65, 0x61, 0x64, 0x62, 0x72, 0x69, 0x64, 0x67, 0x65, 0x2d, 0x72, 0x65, 0x71, 0x69, 0x64}

// ClientRequestID is the GUID sent as x-ms-client-request-id for request
// id: the id itself, lower-cased, when it is a GUID; otherwise the name-based
// (version 5, SHA-1) UUID of id in requestIDNamespace, so the same id always
// gives the same GUID. An empty id gives a random (version 4) GUID.
func ClientRequestID(id string) string {
	if isGUID(id) {
		return strings.ToLower(id)
	}
	var b [16]byte
	if id == "" {
		_, _ = rand.Read(b[:])
		b[6] = b[6]&0x0f | 0x40
	} else {
		h := sha1.New()
		h.Write(requestIDNamespace[:])
		h.Write([]byte(id))
		copy(b[:], h.Sum(nil))
		b[6] = b[6]&0x0f | 0x50
	}
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// isGUID reports whether s is a GUID in its 8-4-4-4-12 hexadecimal form.
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch i {
		case 8, 13, 18, 23:
			if r != '-' {
				return false
			}
		default:
			if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f' || 'A' <= r && r <= 'F') {
				return false
			}
		}
	}
	return true
}
