// Package emulator is a local stand-in for Microsoft Dataverse: the Web API
// v9.2 (leads, contacts, accounts, campaigns, annotations, systemusers,
// teams, the custom table new_enquiries, sdkmessages and sdkmessagefilters,
// their table definitions and $metadata) and the Entra ID client-credentials
// token endpoint that guards it, served over TLS from one address.
//
// It exists so that leadbridge can be developed, tested and benchmarked
// without a Dynamics 365 organisation, and so that every failure the worker
// must survive (throttling, outages, expired tokens, conflicts) can be
// produced on demand. Fidelity is the point: status codes, error codes,
// header names and messages follow shared/reference/dataverse.md, and the
// package deliberately shares no code with leadbridge's own Dataverse client,
// so that the two cannot agree on a bug.
//
// Use it from Go tests like httptest:
//
//	srv, err := emulator.Start(emulator.Options{Addr: "127.0.0.1:0"})
//	...
//	defer srv.Close()
//	// srv.URL() is both DATAVERSE_URL and AZURE_AUTHORITY_HOST;
//	// srv.Client() trusts the emulator's CA.
//
// or run it as a program (cmd/dataverse-emulator), which keeps its rows
// across restarts (Options.Persist). Besides the Dataverse and Entra routes
// it serves an unauthenticated control surface, not counted in the
// statistics: PUT /_emulator/config (a JSON merge patch of Config; GET
// returns the current one), GET /_emulator/stats (Stats), POST
// /_emulator/reset (Server.Reset), PUT /_emulator/rows/{set} (a JSON array
// of rows, Server.Seed; see seed.go), GET /_emulator/requests
// [?client_request_id=…] (Server.Requests; see requests.go), and a
// read-only HTML overview at /.
//
// The parts a reader looks for by name live in packages of their own, none
// of which imports this one: emulator/odata is the query language ($filter,
// $orderby, $select, key literals), emulator/identity the Entra ID token
// endpoint, and emulator/devcreds the development credentials and defaults
// that leadbridge's configuration shares. This package is the Web API:
// routes, limits, store, schema (schema.go, the one definition from which
// validation, table definitions, $metadata and sdkmessagefilters are all
// generated), $batch, bulk operation messages, $expand, annotations and
// the control surface.
//
// Choices where Dataverse leaves room, or where the emulator is stricter:
//
//   - Service protection limits are per client id and enforced exactly, with
//     no overshoot allowance. Execution time is simulated: each operation
//     costs latency_ms (a bulk operation message bulk_row_percent of
//     latency_ms per target, 25% by default, at least latency_ms, while it
//     counts as one request). A refusal makes the whole user wait; requests that
//     arrive during the wait are refused too, and those arriving more than
//     250 ms after the 429 that started it are early retries: counted in
//     Stats.EarlyRetries and doubling the wait (up to the window). See
//     limits.go.
//   - Retry-After is whole seconds, rounded up and at least 1, as Dataverse
//     documents it (Microsoft's retry sample parses an int), and a user's
//     wait lasts exactly as long as the Retry-After that started it. A
//     concurrency refusal waits 1 s at windows up to the default 300 s and
//     proportionally longer at larger ones.
//   - Further app registrations (Config.Applications) sign in with a
//     client secret and are limited apart, as Dataverse limits each
//     application user; WhoAmI answers every app with the same user, and
//     rows are owned by it.
//   - x-ms-dop-hint is the configured concurrency limit, or 52 (Dataverse's
//     default limit) when that limit is off.
//   - x-ms-ratelimit-burst-remaining-xrm-requests is the requests left in
//     the window; x-ms-ratelimit-time-remaining-xrm-requests the execution
//     time left, in seconds as "1,200.00". Neither is sent when its facet is
//     off (the reference leaves their format unconfirmed).
//   - Tokens are opaque random strings (not JWTs) valid for
//     token_lifetime_seconds. An unknown client id gets Entra's 400
//     unauthorized_client (AADSTS700016), a wrong secret 401 invalid_client
//     (AADSTS7000215), an unknown tenant 400 invalid_request (AADSTS90002).
//   - Error envelopes carry the hex codes real orgs send. Several of
//     Microsoft's documented examples show "code":"" instead (404 on
//     If-Match: * with no row, the 412s of conditional operations);
//     "blank_error_codes": true in the configuration (Config.BlankErrorCodes)
//     makes every envelope, $batch parts included, look like those, with
//     status and message unchanged.
//   - Faults (Config.Faults) answer 5xx instead of working (error_rate,
//     down), or do the work and lose the answer (drop_after_write_rate):
//     the write is committed, then the connection is closed (HTTP/1.1) or
//     the stream reset (HTTP/2) with no response, counted in
//     Stats.DroppedAfterWrite.
//   - A client may choose a row's primary key: POST leads with
//     {"leadid":"<guid>",…} creates the row under that id. A POST naming an
//     id that exists is refused 412 0x80040237 "A record with matching key
//     values already exists.", and nothing changes: the reference documents
//     that answer for PATCH with If-None-Match: * on an existing row (which
//     the emulator gives too, in $batch change sets as well), not for a
//     POST, where third parties observe the same.
//   - Alternate keys come from Config.AlternateKeys (one key per table, its
//     columns); stock tables have none, as in Dataverse.
//   - Config.MaxLengths shortens text columns as an org's admins may have
//     customized them ("max_lengths": {"leads": {"jobtitle": 20}}), so that
//     a value within the standard length meets Dataverse's length error;
//     the table definitions (EntityDefinitions …/Attributes) show the
//     shortened MaxLength, as a real org's do ($metadata keeps the
//     standard one).
//   - People sign in through /{tenant}/oauth2/v2.0/authorize (a page where
//     any user name is typed; no password) with the authorization code
//     flow and PKCE, and get an RS256 id_token with Entra's v2.0 claims,
//     verifiable with /{tenant}/discovery/v2.0/keys (package identity).
//   - A row's default order is creation order; paging cookies carry only the
//     page number, so every page must be asked for with the same
//     odata.maxpagesize.
//   - Columns outside the small schema in schema.go are unknown properties.
//     Custom columns carry the default publisher's prefix (new_) and custom
//     choice values start at 100,000,000. Money and decimal values are JSON
//     numbers, stored rounded to the column's precision (money has no
//     transactioncurrencyid here); out of range is 400 with InvalidArgument
//     (Dataverse's code for it is unconfirmed). A multi-select choice is
//     the string "100000000,100000001" ("" clears it); dates are ISO 8601
//     between 1753 and 9999, else 0x80040239.
//   - Users and message definitions (systemusers, sdkmessages,
//     sdkmessagefilters) are read-only through the Web API: a write is 400
//     "The 'Create' method does not support entities of type
//     'systemuser'. …" (the message clients report; its status and code,
//     InvalidArgument here, are unconfirmed). Dataverse takes users from
//     Entra ID and can create application users through the Web API; the
//     emulator does not. Their rows come from the built-in seed (the
//     application user, three people, two teams: Server.Users,
//     Server.TeamID) and from PUT /_emulator/rows/{set}; Reset keeps only the
//     built-in ones.
//   - A row is owned by its creator unless the request binds
//     ownerid@odata.bind to /systemusers(id) or /teams(id), on create or
//     update (an Owner lookup: lookuplogicalname says which). ownerid cannot
//     be cleared, createdby and modifiedby cannot be set. The owner
//     relationship's ReferencedEntity is "owner", as in Dataverse;
//     owninguser and owningteam are not served.
//   - A note's objecttypecode is the logical name of the table its objectid
//     was bound to (objectid_lead, _contact, _account, _new_enquiry).
//   - Bulk operation messages follow "Use bulk operation messages" and the
//     Web API action reference: CreateMultiple answers 200 with
//     CreateMultipleResponse {Ids} in Targets order; UpdateMultiple and
//     UpsertMultiple answer 204 with no body ("The UpsertMultiple action
//     returns 204 NoContent. The UpsertMultipleResponse complex type is not
//     returned."). On a standard table "any error … causes the entire
//     operation to roll back": the first failing target's error (what its
//     single create or update would answer) is the answer and nothing is
//     written; a target UpdateMultiple cannot find is 404 0x80040217
//     "lead With Ids = <guid> Do Not Exist" (the page's troubleshooting
//     section). A bulk request counts once for the request facet ("Each bulk
//     operation message counts as single request") and costs
//     bulk_row_percent of latency_ms × the number of Targets in execution
//     time (at least latency_ms), inside $batch too: bulk messages on
//     standard tables are documented as more efficient per row the more
//     rows they carry, a $batch as no more efficient than its operations
//     one by one (opMS in routes.go). Every
//     target must carry @odata.type naming the bound table. Which tables
//     take them is in sdkmessagefilters (leads, contacts, accounts,
//     campaigns, new_enquiries; not annotations, teams or systemusers),
//     queried as the page shows: sdkmessagefilters?$select=sdkmessagefilterid
//     &$filter=sdkmessageid/name eq @message and primaryobjecttypecode eq
//     @table&@message='CreateMultiple'&@table='lead'. A table without them
//     answers "The 'CreateMultiple' method does not support entities of type
//     'annotation'. …".
//   - Table definitions: EntityDefinitions(LogicalName='lead') answers one
//     object with a …/$entity context (Microsoft's example shows a value
//     array there, which real orgs do not send). Labels are en-US (1033)
//     only; SchemaName is the logical name with its first letter (after a
//     publisher prefix) upper-cased, not Dataverse's exact Pascal case; an
//     alternate key is named new_<table>_<columns>_key and always Active.
//     An unknown table is 404 0x80040217 "Could not find an entity with name
//     x and id 00000000-0000-0000-0000-000000000000.", an unknown column
//     404 0x80040217 "Could not find an attribute with specified name: x."
//     (messages seen from Dataverse's metadata service; the code is
//     ObjectDoesNotExist). statecode is valid for create here because the
//     emulator accepts it on create; real orgs may say otherwise.
//   - The token endpoint takes, besides the secret, client assertions:
//     signed by a certificate in Config.Certificates, or federated tokens
//     matching Config.FederatedCredentials, checked as identity/assertion.go
//     describes. Which AADSTS code Entra gives a replayed jti is not known;
//     the emulator answers 50027.
//   - The request log keeps the last 10,000 Web API requests with the
//     client's x-ms-client-request-id (what Microsoft's ServiceClient sends
//     per request) or client-request-id; Stats counts those without one.
//   - Formatted values (Prefer: odata.include-annotations) are those of an
//     en-US user in UTC: choice, state, status and Yes/No labels from the
//     schema ("Web", "Open", "Do Not Allow"), integers grouped ("1,500"),
//     dates as "3/9/2026 2:05 PM", lookups as the related row's primary
//     name; money in US dollars ("$1,234.57"), multi-select choices as
//     labels joined by "; ". The calling application user, a systemuser
//     named "# <client id>", creates and modifies every row and owns those
//     created without an owner. Annotation term names match
//     case-sensitively.
//   - $filter inside a single-valued $expand makes the expansion null when
//     the related row fails it.
//   - GET leads(id)/parentcontactid answers 204 when the lookup is empty,
//     as OData specifies; Dataverse's answer is unconfirmed.
//
// Besides create, read, update, upsert and delete, the Web API serves:
//
//   - Prefer: odata.include-annotations with "*", lists, * wildcards and
//     -exclusions: OData.Community.Display.V1.FormattedValue,
//     Microsoft.Dynamics.CRM.associatednavigationproperty and
//     lookuplogicalname (Customer lookups report the table they hold),
//     Microsoft.Dynamics.CRM.totalrecordcount and
//     totalrecordcountlimitexceeded; on collections, single rows,
//     return=representation and expanded rows; echoed in
//     Preference-Applied. They, like $expand, rule out 304 Not Modified.
//   - $expand of single-valued navigation properties (parentcontactid,
//     parentaccountid, customerid_contact/_account, a contact's
//     parentcustomerid_account/_contact and originatingleadid, an account's
//     primarycontactid, parentaccountid and originatingleadid, a lead's
//     campaignid, a note's objectid_*, ownerid (the user or team) and
//     createdby/modifiedby) with nested
//     $select, $filter and $expand, or as nav/$ref links; on GET and on
//     POST with return=representation (ignored on PATCH, as in Dataverse).
//     At most 15 expansions per query.
//   - $expand of collection-valued navigation properties, the one-to-many
//     mirrors of those lookups (a contact's lead_parent_contact,
//     lead_customer_contacts, contact_customer_contacts and
//     account_primary_contact; an account's lead_parent_account,
//     lead_customer_accounts, contact_customer_accounts and
//     account_parent_account; a lead's contact_originating_lead,
//     account_originating_lead, Lead_Annotation and new_lead_new_enquiry; a
//     campaign's campaign_leads), at the top level with $select, $filter,
//     $orderby and $top, up to 5,000 rows each and a <nav>@odata.nextLink
//     that GET contacts(id)/lead_parent_contact serves as a filtered,
//     pageable collection.
//   - $ref: PUT and DELETE on leads(id)/parentcontactid/$ref (and every
//     single-valued navigation property but the system ones), POST and
//     DELETE (?$id= or nav(id)/$ref) on a collection-valued one, each an
//     update of the row holding the lookup; "$N" in @odata.id inside $batch
//     change sets; PATCH {"parentcontactid": null} clears a lookup.
//   - Parameter aliases in $filter (@p1 with &@p1='x'), and the lookup
//     paths a table declares (sdkmessagefilters' sdkmessageid/name).
//   - POST {set}/Microsoft.Dynamics.CRM.CreateMultiple, UpdateMultiple and
//     UpsertMultiple (bulk.go), and $batch with odata.continue-on-error,
//     which runs and reports every part after a failed one.
//   - EntityDefinitions with $select, $filter (including enumeration
//     literals and RequiredLevel/Value) and $expand; its Attributes (each of
//     its derived @odata.type), one attribute by LogicalName or MetadataId,
//     casts to a derived type with $expand=OptionSet,GlobalOptionSet
//     (Picklist, MultiSelectPicklist, State, Status, Boolean) and
//     …/OptionSet; Keys; OneToManyRelationships and ManyToOneRelationships
//     (metadata.go). $metadata is a CSDL document with every table's
//     EntityType and EntitySet and the WhoAmI function and bulk actions
//     (csdl.go); it does not describe the definition types themselves.
//
// Not supported, and refused with an error that says so where a client
// could ask: collection-valued expansions nested inside another $expand or with a
// nested $expand (Dataverse pages those per collection); deep insert;
// many-to-many relationships (ManyToManyRelationships is empty);
// DeleteMultiple (elastic tables only, in Dataverse too); writing table
// definitions, RelationshipDefinitions and GlobalOptionSetDefinitions;
// ContainValues and the other Dataverse query functions but In, NotIn,
// Between and NotBetween; lookup paths in $filter other than the declared
// ones; businessunits and currencies; reading one row through a
// collection-valued property (contacts(id)/lead_parent_contact(id));
// $count on navigation properties; the globalmetadataversion annotation
// and the Microsoft.PowerApps.CDS.* error-detail annotations. Deleting a
// row leaves lookups to it in place (Dataverse removes the link or
// cascades the delete); such a lookup expands to null and has no formatted
// value.
package emulator

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/leadbridge/leadbridge/emulator/devcreds"
	"github.com/leadbridge/leadbridge/emulator/identity"
)

// The app registration the emulator accepts unless Options say otherwise:
// the development values of package devcreds, printed on start, never
// secrets.
const (
	DefaultTenantID     = devcreds.TenantID
	DefaultClientID     = devcreds.ClientID
	DefaultClientSecret = devcreds.ClientSecret
)

// Options configure Start.
type Options struct {
	// Addr is the TLS listen address; "127.0.0.1:0" picks a free port.
	Addr string
	// DataDir, if set, receives ca.pem (the CA clients must trust) and
	// ca-key.pem, so that a restarted emulator reuses the same CA and clients
	// configured with ca.pem keep working.
	DataDir string
	// Persist keeps the tables across restarts in DataDir/rows.json, for
	// `make run`: Start loads it; changes are written at most once a
	// second, atomically (a temporary file renamed over it), and on Close;
	// Reset empties it at once. Tokens, statistics and the control
	// configuration (alternate keys included) are not kept. It needs
	// DataDir; tests leave it off unless they test it.
	Persist bool
	// TenantID, ClientID and ClientSecret are the app registration the token
	// endpoint accepts; "" selects the Default* constants.
	TenantID, ClientID, ClientSecret string
	// Hosts are extra DNS names or IP addresses for the server certificate,
	// for clients that reach the emulator by another name (a container's
	// service name, say). 127.0.0.1, ::1 and localhost are always included.
	Hosts []string
	// Config is the initial control configuration, taken as is: a zero limit
	// is off, as in PUT /_emulator/config. Three zero values mean "default"
	// instead, because they cannot be off: Limits.WindowSeconds (300),
	// TokenLifetimeSeconds (3599) and Faults.ErrorStatus (503). nil means the
	// documented Dataverse defaults.
	Config *Config
	// Logger receives one record per request at debug level and lifecycle
	// events at info level; nil discards.
	Logger *slog.Logger
}

// Server is a running emulator. Its methods are safe for concurrent use.
type Server struct {
	tenant, clientID string

	url     string
	caPEM   []byte
	client  *http.Client
	handler http.Handler
	log     *slog.Logger
	httpSrv *http.Server
	served  chan struct{}

	cfgMu sync.RWMutex
	cfg   Config
	creds identity.Credentials // cfg's certificates and federated credentials, parsed

	store *store
	// persister keeps the store in DataDir with Options.Persist; nil
	// otherwise.
	persister *persister
	identity  *identity.Service
	limiter   *limiter
	stats     *statsCounter
	requests  *requestLog
	ids       identityIDs

	closeOnce sync.Once
	closeErr  error
}

// Start listens on opts.Addr and serves TLS in the background until Close.
func Start(opts Options) (*Server, error) {
	if opts.Addr == "" {
		return nil, errors.New("emulator: Options.Addr is empty")
	}
	s := &Server{
		tenant:   orDefault(opts.TenantID, DefaultTenantID),
		clientID: orDefault(opts.ClientID, DefaultClientID),
		log:      opts.Logger,
		served:   make(chan struct{}),
		stats:    newStatsCounter(),
		requests: newRequestLog(),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.ids = newIdentityIDs(s.tenant)
	s.cfg = defaultConfig()
	if opts.Config != nil {
		c := *opts.Config
		c.AlternateKeys = cloneKeys(opts.Config.AlternateKeys)
		if c.Limits.WindowSeconds == 0 {
			c.Limits.WindowSeconds = defaultWindowSeconds
		}
		if c.TokenLifetimeSeconds == 0 {
			c.TokenLifetimeSeconds = defaultTokenLifetime
		}
		if c.BulkRowPercent == 0 {
			c.BulkRowPercent = defaultBulkRowPercent
		}
		if c.Faults.ErrorStatus == 0 {
			c.Faults.ErrorStatus = http.StatusServiceUnavailable
		}
		if err := c.validate(); err != nil {
			return nil, fmt.Errorf("emulator: Options.Config: %w", err)
		}
		s.cfg = c
		s.creds, _ = c.credentials() // validate checked them
	}
	if opts.Persist && opts.DataDir == "" {
		return nil, errors.New("emulator: Options.Persist needs Options.DataDir")
	}
	s.store = newStore()
	rowsPath := filepath.Join(opts.DataDir, rowsFile)
	if opts.Persist {
		if err := loadRows(s.store, rowsPath, s.log); err != nil {
			return nil, fmt.Errorf("emulator: load rows: %w", err)
		}
	}
	if err := s.store.setAlternateKeys(s.cfg.AlternateKeys); err != nil {
		return nil, fmt.Errorf("emulator: Options.Config: %w", err)
	}
	if err := s.seedBuiltins(); err != nil {
		return nil, fmt.Errorf("emulator: %w", err)
	}
	s.limiter = newLimiter(s.stats)

	ca, err := loadOrCreateCA(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("emulator: %w", err)
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("emulator: listen: %w", err)
	}
	host := urlHost(opts.Addr, ln.Addr())
	certHost, _, _ := net.SplitHostPort(host)
	leaf, err := ca.issueServerCert(append([]string{certHost}, opts.Hosts...))
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("emulator: %w", err)
	}
	s.url = "https://" + host
	s.caPEM = ca.certPEM
	s.identity = identity.New(identity.Options{
		TenantID:     s.tenant,
		ClientID:     s.clientID,
		ClientSecret: orDefault(opts.ClientSecret, DefaultClientSecret),
		ResourceURL:  s.url,
		Conditions:   s.identityConditions,
		Issued:       s.stats.tokenIssued,
	})

	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	// Tests and benchmarks send from many goroutines; the default of 2 idle
	// connections per host would make them dial (and handshake) constantly.
	transport.MaxIdleConnsPerHost = 256
	s.client = &http.Client{Transport: transport, Timeout: 30 * time.Second}

	s.handler = s.routes()
	s.httpSrv = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{leaf}, MinVersion: tls.VersionTLS12},
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	go func() {
		defer close(s.served)
		err := s.httpSrv.ServeTLS(ln, "", "")
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("emulator stopped serving", "err", err)
		}
	}()
	if opts.Persist {
		s.persister = startPersister(s.store, rowsPath, s.log)
	}
	s.log.Info("emulator listening", "url", s.url, "tenant", s.tenant, "client_id", s.clientID, "persist", opts.Persist)
	return s, nil
}

// URL is the emulator's base URL, https://127.0.0.1:PORT for a loopback
// listener. It is both the Dataverse environment URL and the authority host.
func (s *Server) URL() string { return s.url }

// Authority is the Entra authority to give MSAL: URL()/tenant.
func (s *Server) Authority() string { return s.url + "/" + s.tenant }

// CACertPEM is the PEM of the CA that signed the server certificate.
func (s *Server) CACertPEM() []byte { return append([]byte(nil), s.caPEM...) }

// Client returns an HTTP client that trusts the emulator's CA and times out
// after 30 seconds.
func (s *Server) Client() *http.Client { return s.client }

// Handler is the emulator's HTTP handler, for callers that want to serve it
// themselves. Absolute URLs it returns are built from the request's Host.
func (s *Server) Handler() http.Handler { return s.handler }

// UpdateConfig merges a JSON patch into the control configuration, exactly as
// PUT /_emulator/config does. It returns an error, and changes nothing, when
// the patch is not valid JSON or leaves the configuration invalid.
func (s *Server) UpdateConfig(patch []byte) error {
	s.cfgMu.Lock()
	defer s.cfgMu.Unlock()
	next, err := mergeConfig(s.cfg, patch)
	if err != nil {
		return err
	}
	if err := s.store.setAlternateKeys(next.AlternateKeys); err != nil {
		return err
	}
	s.cfg = next
	s.creds, _ = next.credentials() // mergeConfig validated them
	s.log.Info("emulator config updated", "config", string(mustJSON(next)))
	return nil
}

// config returns a snapshot of the current configuration.
func (s *Server) config() Config {
	s.cfgMu.RLock()
	defer s.cfgMu.RUnlock()
	c := s.cfg
	return c
}

// Stats returns the counters served at GET /_emulator/stats.
func (s *Server) Stats() Stats {
	st := s.stats.snapshot()
	st.WithoutClientRequestID = s.requests.withoutID()
	return st
}

// Reset empties the tables, the statistics and the throttling state (as if
// the service-protection windows had all elapsed). Issued tokens and the
// configuration are kept, so connected clients carry on.
func (s *Server) Reset() {
	s.store.reset()
	if err := s.seedBuiltins(); err != nil {
		// The built-in rows are valid by construction; a failure is a bug.
		panic(err)
	}
	s.stats.reset()
	s.requests.reset()
	s.limiter.reset()
	if s.persister != nil {
		// At once rather than within the second: a reset is asked for, and
		// should hold even if the process is killed right after it.
		if err := s.persister.save(); err != nil {
			s.log.Error("emulator could not save its emptied rows", "err", err)
		}
	}
	s.log.Info("emulator reset")
}

// Close stops the server, waiting up to five seconds for requests in
// flight, then (with Options.Persist) writes the rows they changed.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		// Our own client's idle HTTP/2 connections would otherwise hold
		// Shutdown for the GOAWAY timeout (a second) on every test.
		if t, ok := s.client.Transport.(*http.Transport); ok {
			t.CloseIdleConnections()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.httpSrv.Shutdown(ctx); err != nil {
			s.closeErr = s.httpSrv.Close()
		}
		<-s.served
		if s.persister != nil {
			s.closeErr = errors.Join(s.closeErr, s.persister.close())
		}
	})
	return s.closeErr
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// urlHost picks the host:port clients should use: the loopback address for
// a wildcard listener, otherwise the host the caller asked for.
func urlHost(addr string, bound net.Addr) string {
	port := strconv.Itoa(bound.(*net.TCPAddr).Port)
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return net.JoinHostPort("127.0.0.1", port)
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return net.JoinHostPort("127.0.0.1", port)
	}
	return net.JoinHostPort(host, port)
}
