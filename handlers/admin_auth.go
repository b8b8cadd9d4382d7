package handlers

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"

	"github.com/leadbridge/leadbridge/audit"
)

// Sessions live in Redis, keyed by a hash of the random id the cookie
// holds (a key dump shows no live session id). They end on sign-out, after
// SessionIdle unused, or SessionMax after sign-in, whichever comes first.
//
// Redis keys:
//
//	lb:admin:session:<sha256(id)>  JSON adminSession, expiring at the idle timeout
//	lb:admin:login:user:<sha256>   login attempts of one user name (hash: n, last)
//	lb:admin:login:ip:<sha256>     login attempts from one client address
//	lb:admin:oidc:<sha256(state)>  a sign-in with Entra ID under way (admin_oidc.go)
const (
	keySession   = "lb:admin:session:"
	keyLoginUser = "lb:admin:login:user:"
	keyLoginIP   = "lb:admin:login:ip:"

	cookieSession = "lb_admin"
	cookieLogin   = "lb_admin_login" // the sign-in form's CSRF token, before any session
	ctxSession    = "admin_session"
)

// adminSession is one signed-in admin.
type adminSession struct {
	User    string    `json:"user"`           // user name, or Entra ID's preferred_username
	Name    string    `json:"name,omitempty"` // display name
	Via     string    `json:"via"`            // password | entra
	CSRF    string    `json:"csrf"`           // the token every form of this session posts
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"` // absolute end
}

// Display is who the admin is, for the page header.
func (s *adminSession) Display() string {
	if s.Name != "" {
		return s.Name
	}
	return s.User
}

func randomToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func hashKey(prefix, v string) string {
	h := sha256.Sum256([]byte(v))
	return prefix + hex.EncodeToString(h[:])
}

func (s *server) sessionIdle() time.Duration {
	if s.Admin.SessionIdle > 0 {
		return s.Admin.SessionIdle
	}
	return 2 * time.Hour
}

func (s *server) sessionMax() time.Duration {
	if s.Admin.SessionMax > 0 {
		return s.Admin.SessionMax
	}
	return 12 * time.Hour
}

// secureCookies: over https (as Echo sees the scheme: the connection, or
// X-Forwarded-Proto from a trusted proxy) cookies are Secure.
func secureCookies(c echo.Context) bool { return c.Scheme() == "https" }

// startSession signs an admin in: any session the browser held is ended
// first and a new id is made (no session fixation), with a new CSRF token.
func (s *server) startSession(c echo.Context, user, name, via string) error {
	ctx := c.Request().Context()
	if old, err := c.Cookie(cookieSession); err == nil && old.Value != "" {
		if err := s.Redis.Del(ctx, hashKey(keySession, old.Value)).Err(); err != nil {
			return adminErr(err)
		}
	}
	now := time.Now().UTC()
	sess := adminSession{User: user, Name: name, Via: via, CSRF: randomToken(), Created: now, Expires: now.Add(s.sessionMax())}
	data, _ := json.Marshal(sess)
	id := randomToken()
	if err := s.Redis.Set(ctx, hashKey(keySession, id), data, min(s.sessionIdle(), s.sessionMax())).Err(); err != nil {
		return adminErr(err)
	}
	c.SetCookie(&http.Cookie{
		Name: cookieSession, Value: id, Path: "/admin", MaxAge: int(s.sessionMax().Seconds()),
		HttpOnly: true, Secure: secureCookies(c), SameSite: http.SameSiteLaxMode,
	})
	s.audit(c, &sess, audit.Entry{Action: "sign-in", Detail: via})
	s.Log.Info("admin signed in", "via", via, "request_id", requestID(c))
	return nil
}

// loadSession returns the request's session, nil when there is none (no
// cookie, unknown, expired). It keeps a live one alive for another idle
// period, never past its absolute end.
func (s *server) loadSession(c echo.Context) (*adminSession, error) {
	ck, err := c.Cookie(cookieSession)
	if err != nil || ck.Value == "" || len(ck.Value) > 100 {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), adminTimeout)
	defer cancel()
	key := hashKey(keySession, ck.Value)
	data, err := s.Redis.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, adminErr(err)
	}
	var sess adminSession
	if err := json.Unmarshal(data, &sess); err != nil {
		return nil, nil
	}
	left := time.Until(sess.Expires)
	if left <= 0 {
		return nil, nil
	}
	if err := s.Redis.Expire(ctx, key, min(s.sessionIdle(), left)).Err(); err != nil {
		return nil, adminErr(err)
	}
	return &sess, nil
}

// requireSession guards every page and action: pages send a visitor
// without a session to sign-in (and back afterwards), actions are refused.
func (s *server) requireSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		sess, err := s.loadSession(c)
		if err != nil {
			return err
		}
		if sess == nil {
			r := c.Request()
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				return c.Redirect(http.StatusSeeOther, "/admin/login?next="+url.QueryEscape(localNext(r.URL.RequestURI())))
			}
			return echo.NewHTTPError(http.StatusForbidden, "Sign in first: this action needs a session of the admin console.")
		}
		c.Set(ctxSession, sess)
		return next(c)
	}
}

// requireCSRF refuses a state-changing request that does not carry the
// session's token, or that the browser says comes from another site.
func (s *server) requireCSRF(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		sess, _ := c.Get(ctxSession).(*adminSession)
		if crossSite(c) || sess == nil || !sameToken(c.FormValue("_csrf"), sess.CSRF) {
			s.Log.Warn("admin action refused: no valid CSRF token", "path", c.Path(), "request_id", requestID(c))
			return echo.NewHTTPError(http.StatusForbidden, "This form did not come from this console's page, or the page is out of date. Go back, reload it, and try again.")
		}
		return next(c)
	}
}

// crossSite: the browser says the request comes from another site (Fetch
// Metadata; libraries.md §13). Old browsers send nothing: the token decides.
func crossSite(c echo.Context) bool {
	return c.Request().Header.Get("Sec-Fetch-Site") == "cross-site"
}

func sameToken(got, want string) bool {
	return got != "" && want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// audit writes an admin action to the audit log. A failure to write is
// logged, not hidden: the action itself has happened.
func (s *server) audit(c echo.Context, sess *adminSession, e audit.Entry) {
	if sess != nil {
		e.By = sess.User
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request().Context()), adminTimeout)
	defer cancel()
	if err := s.auditLog.Add(ctx, e); err != nil {
		s.Log.Error("audit entry not written", "action", e.Action, "submission", e.Submission, "err", err, "request_id", requestID(c))
	}
}

// loginPage is the sign-in page's data.
type loginPage struct {
	adminPage
	Password   bool   // password sign-in is configured
	Entra      bool   // Entra ID sign-in is configured
	Next       string // where to go afterwards
	LoginToken string // the form's CSRF token
	User       string // what was typed, after a refusal
	Problem    string
	Notice     string
}

// adminLoginPage is GET /admin/login.
func (s *server) adminLoginPage(c echo.Context) error {
	p := s.loginPage(c, "", "")
	switch c.QueryParam("m") {
	case "out":
		p.Notice = "You have signed out."
	case "expired":
		p.Notice = "Your sign-in has expired. Sign in again."
	}
	if e := c.QueryParam("error"); e != "" {
		p.Problem = entraProblems[e]
		if p.Problem == "" {
			p.Problem = "Sign-in with Entra ID did not complete. Try again."
		}
	}
	return s.renderAdmin(c, http.StatusOK, "login.html", p)
}

func (s *server) loginPage(c echo.Context, user, problem string) loginPage {
	tok := randomToken()
	c.SetCookie(&http.Cookie{Name: cookieLogin, Value: tok, Path: "/admin", HttpOnly: true,
		Secure: secureCookies(c), SameSite: http.SameSiteStrictMode, MaxAge: 3600})
	return loginPage{
		adminPage: s.newAdminPage(c, "Sign in", ""), Password: s.Admin.User != "", Entra: s.Admin.OIDC != nil,
		Next: localNext(c.QueryParam("next")), LoginToken: tok, User: user, Problem: problem,
	}
}

// Login limits: after loginFreeAttempts wrong passwords for a user name
// (loginFreeAttemptsIP from one address), each further attempt must wait,
// starting at loginFirstWait and doubling up to loginMaxWait; the counts
// are forgotten loginWindow after the last attempt, and a user's on
// success.
const (
	loginFreeAttempts   = 10
	loginFreeAttemptsIP = 30
	loginFirstWait      = 30 * time.Second
	loginMaxWait        = time.Hour
	loginWindow         = 24 * time.Hour
)

// loginScript counts an attempt for each key unless one of them must still
// wait; then it counts nothing and returns the longest wait in ms. Every
// attempt is counted before the password is checked, so parallel guesses
// are limited too; a success takes its count back.
// ARGV: now ms, window ms, then per key: free attempts; first wait ms, max wait ms.
var loginScript = redis.NewScript(`
local now, window, first, maxw = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local wait = 0
for i, key in ipairs(KEYS) do
  local free = tonumber(ARGV[4 + i])
  local n = tonumber(redis.call('HGET', key, 'n') or '0')
  local last = tonumber(redis.call('HGET', key, 'last') or '0')
  if n >= free then
    local w = math.min(first * 2 ^ (n - free), maxw)
    local left = last + w - now
    if left > wait then wait = left end
  end
end
if wait > 0 then return math.ceil(wait) end
for i, key in ipairs(KEYS) do
  redis.call('HINCRBY', key, 'n', 1)
  redis.call('HSET', key, 'last', now)
  redis.call('PEXPIRE', key, window)
end
return 0
`)

// adminLogin is POST /admin/login: the password sign-in.
func (s *server) adminLogin(c echo.Context) error {
	if s.Admin.User == "" {
		return echo.NewHTTPError(http.StatusNotFound, "Password sign-in is not configured; use Entra ID.")
	}
	ck, err := c.Cookie(cookieLogin)
	if crossSite(c) || err != nil || !sameToken(c.FormValue("_csrf"), ck.Value) {
		return echo.NewHTTPError(http.StatusForbidden, "This sign-in form is out of date or did not come from this console (cookies must be on). Reload the page and try again.")
	}
	user, pass := strings.TrimSpace(c.FormValue("user")), c.FormValue("password")
	if len(user) > 200 || len(pass) > 200 {
		return s.renderAdmin(c, http.StatusUnprocessableEntity, "login.html", s.loginPage(c, "", "That user name or password is too long."))
	}
	ctx := c.Request().Context()
	userKey, ipKey := hashKey(keyLoginUser, strings.ToLower(user)), hashKey(keyLoginIP, c.RealIP())
	wait, err := loginScript.Run(ctx, s.Redis, []string{userKey, ipKey},
		time.Now().UnixMilli(), loginWindow.Milliseconds(), loginFirstWait.Milliseconds(), loginMaxWait.Milliseconds(),
		loginFreeAttempts, loginFreeAttemptsIP).Int64()
	if err != nil {
		return adminErr(err)
	}
	if wait > 0 {
		d := time.Duration(wait) * time.Millisecond
		s.Log.Warn("admin sign-in refused: too many attempts", "wait_s", int(d.Seconds()+0.999), "request_id", requestID(c))
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(d.Seconds()+0.999)))
		return s.renderAdmin(c, http.StatusTooManyRequests, "login.html", s.loginPage(c, user,
			fmt.Sprintf("Too many wrong passwords. Wait %s before trying again.", roundWait(d))))
	}
	if !s.checkPassword(user, pass) {
		s.Log.Warn("admin sign-in refused: wrong user name or password", "request_id", requestID(c))
		return s.renderAdmin(c, http.StatusUnauthorized, "login.html", s.loginPage(c, user, "Wrong user name or password."))
	}
	// A success forgets the user's wrong guesses and takes back its own
	// count from the address.
	if _, err := s.Redis.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, userKey)
		p.HIncrBy(ctx, ipKey, "n", -1)
		return nil
	}); err != nil {
		return adminErr(err)
	}
	if err := s.startSession(c, s.Admin.User, "", "password"); err != nil {
		return err
	}
	c.SetCookie(&http.Cookie{Name: cookieLogin, Path: "/admin", MaxAge: -1})
	return c.Redirect(http.StatusSeeOther, localNext(c.FormValue("next")))
}

// checkPassword compares in constant time; with a bcrypt hash, bcrypt's
// own compare (which is constant time in the password).
func (s *server) checkPassword(user, pass string) bool {
	userOK := subtle.ConstantTimeCompare([]byte(strings.ToLower(user)), []byte(strings.ToLower(s.Admin.User))) == 1
	var passOK bool
	if len(s.Admin.PasswordHash) > 0 {
		passOK = bcrypt.CompareHashAndPassword(s.Admin.PasswordHash, []byte(pass)) == nil
	} else {
		a, b := sha256.Sum256([]byte(pass)), sha256.Sum256([]byte(s.Admin.Password))
		passOK = subtle.ConstantTimeCompare(a[:], b[:]) == 1
	}
	return userOK && passOK
}

func roundWait(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%d seconds", int(d.Seconds()+0.999))
	}
	return fmt.Sprintf("%d minutes", int(d.Minutes()+0.999))
}

// adminLogout is POST /admin/logout: the session is deleted in Redis, so
// a copied cookie is worth nothing afterwards.
func (s *server) adminLogout(c echo.Context) error {
	sess, _ := c.Get(ctxSession).(*adminSession)
	if ck, err := c.Cookie(cookieSession); err == nil {
		if err := s.Redis.Del(c.Request().Context(), hashKey(keySession, ck.Value)).Err(); err != nil {
			return adminErr(err)
		}
	}
	c.SetCookie(&http.Cookie{Name: cookieSession, Path: "/admin", MaxAge: -1, HttpOnly: true, Secure: secureCookies(c), SameSite: http.SameSiteLaxMode})
	s.audit(c, sess, audit.Entry{Action: "sign-out"})
	return c.Redirect(http.StatusSeeOther, "/admin/login?m=out")
}
