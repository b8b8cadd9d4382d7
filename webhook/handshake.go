package webhook

import (
	"net/http"
	"net/url"
)

// maxChallenge bounds the hub.challenge echoed to Meta. Meta sends an
// integer; nothing longer needs echoing.
const maxChallenge = 1024

// Handshake answers GET /hooks/{source}, given the request's query, with the
// status and body to send (as text/plain):
//
//   - meta-leadgen: Meta's subscription check. hub.mode=subscribe and a
//     hub.verify_token equal (constant-time) to one of the source's verify
//     tokens: 200 with hub.challenge as the whole body. Any other mode or
//     token: 403, so nothing is echoed to a caller without the token. A
//     missing or oversized challenge: 400.
//   - mailchimp: 200 with an empty body. Mailchimp checks the URL with a GET
//     when the webhook is saved, and sends it without any secret.
//   - every other kind: 405; the platform makes no handshake.
func (s *Source) Handshake(query url.Values) (status int, body string) {
	switch s.Kind {
	case KindMetaLeadgen:
		if query.Get("hub.mode") != "subscribe" || !tokenMatches(s.VerifyTokens, query.Get("hub.verify_token")) {
			return http.StatusForbidden, ""
		}
		ch := query.Get("hub.challenge")
		if ch == "" || len(ch) > maxChallenge {
			return http.StatusBadRequest, ""
		}
		return http.StatusOK, ch
	case KindMailchimp:
		return http.StatusOK, ""
	}
	return http.StatusMethodNotAllowed, ""
}
