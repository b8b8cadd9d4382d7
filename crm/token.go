package crm

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"
)

// tokenTimeout bounds one token acquisition.
const tokenTimeout = 30 * time.Second

// tokenSource hands out access tokens for the Dataverse environment from one
// long-lived MSAL confidential client, whose in-memory cache serves repeat
// calls until shortly before expiry.
type tokenSource struct {
	scope  string
	source string // Config.CredentialSource
	build  func() (confidential.Client, error)

	mu  sync.Mutex
	app confidential.Client
}

// microsoftHosts are the Entra ID authority hosts MSAL knows; for any other
// host (a sovereign cloud proxy, or the emulator) instance discovery against
// login.microsoftonline.com must be off.
var microsoftHosts = map[string]bool{
	"login.microsoftonline.com": true, "login.microsoftonline.us": true,
	"login.chinacloudapi.cn": true, "login.partner.microsoftonline.cn": true,
}

func newTokenSource(cfg Config, hc *http.Client) (*tokenSource, error) {
	host := strings.TrimRight(cfg.AuthorityHost, "/")
	if host == "" {
		host = "https://login.microsoftonline.com"
	}
	au, err := url.Parse(host)
	if err != nil || au.Scheme != "https" {
		return nil, fmt.Errorf("crm: authority host %q must be https", cfg.AuthorityHost)
	}
	authority := host + "/" + cfg.TenantID
	cred, err := credential(cfg)
	if err != nil {
		return nil, err
	}
	opts := []confidential.Option{confidential.WithHTTPClient(hc)}
	if cfg.SendCertificateChain && cfg.PrivateKey != nil {
		opts = append(opts, confidential.WithX5C())
	}
	if !microsoftHosts[strings.ToLower(au.Hostname())] {
		opts = append(opts, confidential.WithInstanceDiscovery(false))
	}
	ts := &tokenSource{
		scope:  strings.TrimRight(cfg.URL, "/") + "/.default",
		source: cfg.CredentialSource,
		build: func() (confidential.Client, error) {
			return confidential.New(authority, cfg.ClientID, cred, opts...)
		},
	}
	if ts.app, err = ts.build(); err != nil {
		return nil, fmt.Errorf("crm: msal: %w", err)
	}
	return ts, nil
}

func (t *tokenSource) token(ctx context.Context) (string, error) {
	t.mu.Lock()
	app := t.app
	t.mu.Unlock()
	// A cached token returns at once; a token request gets its own bound,
	// shorter than a delivery's.
	ctx, cancel := context.WithTimeout(ctx, tokenTimeout)
	defer cancel()
	res, err := app.AcquireTokenByCredential(ctx, []string{t.scope})
	if err != nil {
		ae := &AuthError{Err: err, Credential: t.source}
		var ce msalerrors.CallErr
		if errors.As(err, &ce) && ce.Resp != nil {
			ae.Status = ce.Resp.StatusCode
		}
		return "", ae
	}
	return res.AccessToken, nil
}

// reset drops every cached token by replacing the MSAL client: MSAL Go has
// no call to evict an app token, and a fresh client costs one discovery GET.
func (t *tokenSource) reset() {
	app, err := t.build()
	if err != nil {
		return // same settings built fine before; keep the old client
	}
	t.mu.Lock()
	t.app = app
	t.mu.Unlock()
}
