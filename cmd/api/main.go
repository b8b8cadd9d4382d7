// Command api is leadbridge's HTTP intake: it validates form submissions,
// makes them durable in Redis, queues them for the worker and answers
// status queries.
package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"syscall"
	"time"

	"github.com/leadbridge/leadbridge/config"
	"github.com/leadbridge/leadbridge/flood"
	"github.com/leadbridge/leadbridge/handlers"
	"github.com/leadbridge/leadbridge/health"
	"github.com/leadbridge/leadbridge/internal/logging"
	"github.com/leadbridge/leadbridge/internal/serve"
	"github.com/leadbridge/leadbridge/metrics"
	"github.com/leadbridge/leadbridge/queue"
	"github.com/leadbridge/leadbridge/spam"
	"github.com/leadbridge/leadbridge/submission"
)

// gcPercent is the API's GOGC unless the environment sets one. Its live
// heap is a few megabytes, so at Go's default of 100 it collects many times
// a second under load, and marking took 5–10 % of intake's CPU in
// profiles; five times the live heap is still small (docs/BENCHMARKS.md).
const gcPercent = 400

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stdout, nil); err != nil {
		fmt.Fprintln(os.Stderr, "api:", err)
		os.Exit(1)
	}
}

// run starts the API and serves until ctx ends. If ready is not nil it
// receives the listening address once the server accepts connections.
func run(ctx context.Context, getenv func(string) string, stdout io.Writer, ready chan<- string) error {
	log := logging.New(stdout, getenv("LEADBRIDGE_LOG_FORMAT"), getenv("LEADBRIDGE_LOG_LEVEL"))
	cfg, err := config.LoadAPI(getenv)
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	rdb, err := cfg.Redis.Client()
	if err != nil {
		return err
	}
	defer rdb.Close()

	admin, err := adminConfig(cfg.Admin)
	if err != nil {
		return err
	}
	admin.SessionIdle, admin.SessionMax = cfg.Keep.SessionIdle, cfg.Keep.SessionMax
	store := submission.NewStore(rdb, cfg.Retention)
	store.SetKeyRetention(submission.KeyRetention{Form: cfg.Keep.IdempotencyKeys, WebhookAtLeast: cfg.Keep.WebhookDedupe})
	reg := metrics.Registry()
	metrics.RegisterStatuses(reg, store)
	metrics.RegisterRedisUp(reg, func(ctx context.Context) error { return rdb.Ping(ctx).Err() })
	if cfg.Web.GeneratedKeys {
		log.Warn("LEADBRIDGE_FORM_TOKEN_KEYS is not set: form tokens and rate-limit counts use a key made for this process only; " +
			"with more than one API replica, or to keep open pages' tokens valid across a restart, set it (the same on every replica)")
	}
	tokens, err := spam.NewTokens(cfg.Web.FormTokenKeys, 0)
	if err != nil {
		return fmt.Errorf("LEADBRIDGE_FORM_TOKEN_KEYS: %w", err)
	}
	limiter, err := flood.NewLimiter(rdb, flood.Options{Secret: cfg.Web.LimiterSecret})
	if err != nil {
		return err
	}
	memory, err := flood.NewMemoryGuard(flood.RedisMemory(rdb), flood.MemoryOptions{Limit: cfg.Web.RedisMemoryLimit})
	if err != nil {
		return fmt.Errorf("LEADBRIDGE_REDIS_MEMORY_LIMIT: %w", err)
	}
	e, err := handlers.New(handlers.Deps{
		Forms:          cfg.Forms,
		Store:          store,
		Queue:          queue.NewClient(rdb),
		Health:         health.New(func(ctx context.Context) error { return rdb.Ping(ctx).Err() }, metrics.Handler(reg), log),
		APIToken:       cfg.APIToken,
		MaxBodyBytes:   cfg.MaxBodyBytes,
		TrustedProxies: cfg.TrustedProxies,
		Log:            log,
		Metrics:        metrics.NewIntake(reg),
		PublicURL:      cfg.Web.PublicURL,
		Tokens:         tokens,
		Limiter:        limiter,
		RateLimitIP:    cfg.Web.RateLimitIP,
		WaitingCap:     cfg.Web.WaitingCap,
		Memory:         memory,
		Sources:        cfg.Sources,
		WaitReplicas:   cfg.Redis.WaitReplicas,
		WaitTimeout:    cfg.Redis.WaitTimeout,
		Redis:          rdb,
		Admin:          admin,
	})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("LEADBRIDGE_ADDR: %w", err)
	}
	srv := serve.NewServer(e)
	sources := make([]string, 0, len(cfg.Sources))
	for id := range cfg.Sources {
		sources = append(sources, id)
	}
	slices.Sort(sources)
	log.Info("api listening", "addr", ln.Addr().String(), "redis", cfg.Redis.Display(), "redis_wait_replicas", cfg.Redis.WaitReplicas, "forms", cfg.Forms.IDs(),
		"webhook_sources", sources, "status_api", cfg.APIToken != "", "admin_console", cfg.Admin.Enabled(), "admin_entra_id", cfg.Admin.OIDC.ClientID != "", "public_url", cfg.Web.PublicURL,
		"rate_limit_ip", cfg.Web.RateLimitIP.String(), "waiting_cap", cfg.Web.WaitingCap, "redis_memory_limit", cfg.Web.RedisMemoryLimit)
	if ready != nil {
		ready <- ln.Addr().String()
	}
	if err := serve.Run(ctx, srv, ln, 15*time.Second); err != nil {
		return err
	}
	log.Info("api stopped")
	return nil
}

// adminConfig turns the console's settings into the handlers' values,
// with an HTTP client for Entra ID that trusts LEADBRIDGE_CA_FILE too.
func adminConfig(a config.Admin) (handlers.AdminConfig, error) {
	out := handlers.AdminConfig{User: a.User, Password: a.Password, PasswordHash: a.PasswordHash, PublicURL: a.PublicURL}
	if a.OIDC.ClientID == "" {
		return out, nil
	}
	roots, err := a.RootCAs()
	if err != nil {
		return out, err
	}
	out.OIDC = &handlers.AdminOIDC{
		Issuer:   a.OIDC.AuthorityHost + "/" + a.OIDC.TenantID + "/v2.0",
		TenantID: a.OIDC.TenantID, ClientID: a.OIDC.ClientID, ClientSecret: a.OIDC.ClientSecret, Allowed: a.OIDC.Allowed,
		HTTPClient: &http.Client{
			Timeout: 15 * time.Second,
			Transport: &http.Transport{
				Proxy:           http.ProxyFromEnvironment,
				TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
			},
		},
	}
	return out, nil
}
