package crm

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Dataverse error codes leadbridge branches on (shared/reference/dataverse.md §5).
const (
	CodeObjectDoesNotExist   = "0x80040217"
	CodeKeyDoesNotExist      = "0x80048d02"
	CodeDuplicateRecord      = "0x80040237"
	CodeDuplicateDetected    = "0x80040333"
	CodeVersionMismatch      = "0x80060882"
	CodeMaxLength            = "0x80044331"
	CodePicklistOutOfRange   = "0x8004431A"
	CodePrivilegeDenied      = "0x80040220"
	CodeThrottleRequests     = "0x80072322"
	CodeAccessTokenExpired   = "0x8005F101"
	CodeEntityKeyNotDefined  = "0x80060890"
	CodeClientPayloadInvalid = "0x80048d19"
)

// APIError is an error answer from the Web API: its HTTP status and the
// code and message of the Dataverse error envelope.
type APIError struct {
	Status     int
	Code       string
	Message    string
	RetryAfter time.Duration // from Retry-After, on 429 and some 503s
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	if e.Code != "" {
		return fmt.Sprintf("dataverse %d %s: %s", e.Status, e.Code, msg)
	}
	return fmt.Sprintf("dataverse %d: %s", e.Status, msg)
}

// NetError is a failure to get any answer: connection refused, reset, DNS,
// TLS, or a timeout. It names the call by method and table only: its URL
// is left out of it, because the query string of a dedupe query holds the
// person's email or phone, and the key of an upsert their email — and this
// text ends up in logs and on the stored submission.
type NetError struct {
	Method string // GET, POST, PATCH
	Table  string // the entity set ("leads") or function ("WhoAmI") called
	Err    error  // the cause, without the URL
}

func (e *NetError) Error() string {
	return "dataverse unreachable: " + e.Method + " " + e.Table + ": " + e.Err.Error()
}
func (e *NetError) Unwrap() error { return e.Err }

// netError wraps the failure of a call to path, dropping the *url.Error
// whose text holds the whole URL.
func netError(method, path string, err error) *NetError {
	var ue *url.Error
	for errors.As(err, &ue) && ue.Err != nil {
		err = ue.Err
	}
	return &NetError{Method: method, Table: table(path), Err: err}
}

// table is the entity set or function a request path addresses: the part
// before any key, which may hold personal data ("leads(emailaddress1='…')").
func table(path string) string {
	if i := strings.IndexAny(path, "(/?"); i >= 0 {
		return path[:i]
	}
	return path
}

// AuthError is a failure to obtain an access token. Status is the identity
// provider's HTTP status (0 if it could not be reached).
type AuthError struct {
	Status int
	Err    error
	// Credential names where the credential came from
	// (Config.CredentialSource), so that a refusal says what to fix.
	Credential string
}

func (e *AuthError) Error() string {
	if e.Credential != "" {
		return "token (credential from " + e.Credential + "): " + e.Err.Error()
	}
	return "token: " + e.Err.Error()
}
func (e *AuthError) Unwrap() error { return e.Err }

// ErrNotFound matches (with errors.Is) the *APIError of a 404: the row
// addressed by id or key does not exist.
var ErrNotFound = errors.New("crm: row does not exist")

// ErrExists matches (with errors.Is) the *APIError of a create refused
// because a row with that primary key exists already: 412 "A record with
// matching key values already exists." (0x80040237, or no code, as
// Microsoft's examples show it).
var ErrExists = errors.New("crm: a row with that key exists")

// Is lets errors.Is match ErrNotFound and ErrExists.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrExists:
		return e.Status == http.StatusPreconditionFailed &&
			(e.Code == CodeDuplicateRecord || strings.Contains(e.Message, "A record with matching key values already exists"))
	}
	return false
}

func parseAPIError(r *response) error {
	e := &APIError{Status: r.status}
	e.RetryAfter, _ = ParseRetryAfter(r.header.Get("Retry-After"), time.Now())
	var env struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(r.body, &env) == nil {
		e.Code, e.Message = env.Error.Code, env.Error.Message
	}
	if e.Message == "" {
		e.Message = strings.TrimSpace(string(r.body))
		if len(e.Message) > 300 {
			e.Message = e.Message[:300]
		}
	}
	return e
}
