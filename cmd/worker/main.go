// Command worker delivers queued submissions into Dataverse and serves its
// health and metrics.
package main

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hibiken/asynq"
	"golang.org/x/sync/errgroup"

	"github.com/leadbridge/leadbridge/alert"
	"github.com/leadbridge/leadbridge/audit"
	"github.com/leadbridge/leadbridge/config"
	"github.com/leadbridge/leadbridge/crm"
	"github.com/leadbridge/leadbridge/crmhealth"
	"github.com/leadbridge/leadbridge/delivery"
	"github.com/leadbridge/leadbridge/erase"
	"github.com/leadbridge/leadbridge/health"
	"github.com/leadbridge/leadbridge/internal/logging"
	"github.com/leadbridge/leadbridge/lease"
	"github.com/leadbridge/leadbridge/metrics"
	"github.com/leadbridge/leadbridge/queue"
	"github.com/leadbridge/leadbridge/submission"
	"github.com/leadbridge/leadbridge/throttle"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// `worker erase …` is a subcommand (erase.go); otherwise flags.
	if len(os.Args) > 1 && os.Args[1] == "erase" {
		if err := runErase(ctx, os.Args[2:], os.Getenv, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "worker erase:", err)
			os.Exit(1)
		}
		return
	}
	flags := flag.NewFlagSet("worker", flag.ContinueOnError)
	checkOnly := flags.Bool("check", false, "check the configuration (YAML, secrets, every mapped column against the org's table definitions), print a report and exit: 0 when it passed, 1 when not")
	if err := flags.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if flags.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "worker: unexpected argument %q (the settings are environment variables; -check is the only flag, erase the only subcommand)\n", flags.Arg(0))
		os.Exit(2)
	}
	var err error
	if *checkOnly {
		err = check(ctx, os.Getenv, os.Stdout)
	} else {
		err = run(ctx, os.Getenv, os.Stdout, nil)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

// run starts the worker and processes until ctx ends. If ready is not nil
// it receives the health address once the worker is processing.
func run(ctx context.Context, getenv func(string) string, stdout io.Writer, ready chan<- string) error {
	log := logging.New(stdout, getenv("LEADBRIDGE_LOG_FORMAT"), getenv("LEADBRIDGE_LOG_LEVEL"))
	cfg, err := config.LoadWorker(getenv)
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	rdb, err := cfg.Redis.Client()
	if err != nil {
		return err
	}
	defer rdb.Close()

	roots, err := cfg.Dataverse.RootCAs(ctx)
	if err != nil {
		return err
	}
	host := cfg.Dataverse.URL
	if u, err := url.Parse(host); err == nil {
		host = u.Host
	}
	crmHealth := crmhealth.NewPublisher(rdb)
	var batcher *delivery.Batcher // set below when batching is on; told of every 429
	limiter := throttle.New(rdb, cfg.Dataverse.ClientID+"@"+host, throttle.Options{
		OnThrottle: func(until time.Time) {
			_ = crmHealth.Throttled(ctx, until)
			if batcher != nil {
				batcher.Throttled()
			}
		},
	})
	client, err := newCRM(cfg, roots, limiter, log)
	if err != nil {
		return err
	}
	// Check the settings end to end, but start either way: a CRM that is
	// down now is the normal case retries exist for.
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	who, err := client.WhoAmI(wctx)
	cancel()
	reachable := err == nil
	if err != nil {
		log.Warn("dataverse check failed; deliveries will be retried", "url", cfg.Dataverse.URL, "credential", cfg.Dataverse.CredentialKind(), "err", err)
		_ = crmHealth.Failed(ctx, delivery.Classify(err).Error)
	} else {
		log.Info("dataverse reachable", "url", cfg.Dataverse.URL, "user_id", who.UserID, "emulated", cfg.Dataverse.Emulated, "credential", cfg.Dataverse.CredentialKind())
		_ = crmHealth.OK(ctx)
	}
	if err := checkAtStart(ctx, cfg, client, reachable, getenv, log); err != nil {
		return err
	}

	store := submission.NewStore(rdb, cfg.DeliveredRetention)
	q := queue.NewClient(rdb)
	reg := metrics.Registry()
	metrics.RegisterStatuses(reg, store)
	metrics.RegisterRedisUp(reg, func(ctx context.Context) error { return rdb.Ping(ctx).Err() })
	metrics.RegisterBacklog(reg, func(ctx context.Context) (int64, time.Time, error) {
		b, err := store.Backlog(ctx)
		return b.Waiting, b.Oldest, err
	})
	metrics.RegisterDataverse(reg, crmhealth.MetricsState(rdb))
	h := &delivery.TaskHandler{
		Store:   store,
		Horizon: cfg.RetryHorizon,
		Log:     log,
		Metrics: metrics.NewDelivery(reg),
		Health:  crmHealth,
		Paused: func(ctx context.Context) (bool, error) {
			st, err := q.Paused(ctx)
			return st.Paused, err
		},
		Deliverer: &delivery.Deliverer{
			CRM:   client,
			Forms: cfg.Forms,
			Locks: lease.New(rdb, erase.LeasePrefix, 30*time.Second),
			Redis: rdb,
			Log:   log,
		},
		Fetcher: &delivery.Fetcher{Sources: cfg.Sources, Forms: cfg.Forms, Timeout: cfg.RequestTimeout},
	}
	if cfg.BatchSize > 1 {
		batcher = &delivery.Batcher{D: h.Deliverer, Max: cfg.BatchSize, Writes: cfg.BatchWrites, Window: cfg.LimitWindow, Log: log}
		h.Batcher = batcher
	}
	// A queue per form and webhook source: the configured ones, and any
	// others Redis holds, so that removed or renamed ones' tasks drain.
	sources := make([]string, 0, len(cfg.Sources))
	for id := range cfg.Sources {
		sources = append(sources, id)
	}
	queues, err := q.Queues(cfg.Forms.IDs(), sources)
	if err != nil {
		queues = []string{queue.Legacy}
		for _, id := range cfg.Forms.IDs() {
			queues = append(queues, queue.FormQueue(id))
		}
		for _, id := range sources {
			queues = append(queues, queue.HookQueue(id))
		}
		log.Warn("could not list the queues in Redis; serving the configured forms' and sources' only", "err", err)
	}
	srv := asynq.NewServerFromRedisClient(rdb, delivery.ServerConfig(cfg.TaskSlots(), queues, nil, asynqLogger{log}))
	mux := asynq.NewServeMux()
	mux.Use(delivery.HoldWhileRedisDown(delivery.PingRedis(rdb), 20*time.Second))
	mux.Handle(queue.TypeDeliver, h)
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("LEADBRIDGE_WORKER_ADDR: %w", err)
	}
	hs := &http.Server{
		Handler:           health.New(func(ctx context.Context) error { return rdb.Ping(ctx).Err() }, metrics.Handler(reg), log),
		ReadHeaderTimeout: 5 * time.Second,
	}
	if err := srv.Start(mux); err != nil {
		ln.Close()
		return fmt.Errorf("start processing: %w", err)
	}

	// The janitor and the health server run until ctx ends (or one of them
	// fails), and run returns only once both have stopped.
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		keep := &erase.Retention{Store: store, Queue: q, Audit: audit.New(rdb), Failed: cfg.Keep.Failed, Spam: cfg.Keep.Spam, Log: cfg.Keep.Audit}
		return (&delivery.Janitor{Store: store, Queue: q, Log: log, Served: queues, Retention: keep}).Run(gctx, time.Minute)
	})
	g.Go(func() error { return keepPaused(gctx, q, queues, log) })
	if a := cfg.Alerts; a.WebhookURL != "" || a.SMTPAddr != "" {
		alerter := alert.New(rdb, store, alert.Config{
			WebhookURL: a.WebhookURL, Every: a.Every, PublicURL: a.PublicURL, RootCAs: roots,
			SMTP: alert.SMTP{Addr: a.SMTPAddr, Username: a.SMTPUsername, Password: a.SMTPPassword, From: a.From, To: a.To},
		}, log)
		g.Go(func() error { return alerter.Run(gctx, alertCheckInterval) })
	}
	g.Go(func() error {
		if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("health server: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		log.Info("worker stopping: finishing or handing back tasks")
		srv.Shutdown() // waits up to ShutdownTimeout, then requeues unfinished tasks
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return hs.Shutdown(shut)
	})
	log.Info("worker running", "queues", queues, "health", ln.Addr().String(), "redis", cfg.Redis.Display(), "concurrency", cfg.Concurrency, "batch_size", cfg.BatchSize, "batch_writes", cfg.BatchWrites, "dataverse", cfg.Dataverse.URL,
		"alert_webhook", cfg.Alerts.WebhookURL != "", "alert_email", cfg.Alerts.SMTPAddr != "")
	if ready != nil {
		ready <- ln.Addr().String()
	}
	err = g.Wait()
	log.Info("worker stopped")
	return err
}

// newCRM builds the Dataverse client of cfg.
func newCRM(cfg config.Worker, roots *x509.CertPool, pacer crm.Pacer, log *slog.Logger) (*crm.Client, error) {
	return crm.New(crm.Config{
		URL:                  cfg.Dataverse.URL,
		TenantID:             cfg.Dataverse.TenantID,
		ClientID:             cfg.Dataverse.ClientID,
		AuthorityHost:        cfg.Dataverse.AuthorityHost,
		ClientSecret:         cfg.Dataverse.ClientSecret,
		Certificates:         cfg.Dataverse.Certificates,
		PrivateKey:           cfg.Dataverse.PrivateKey,
		FederatedTokenFile:   cfg.Dataverse.FederatedTokenFile,
		SendCertificateChain: cfg.Dataverse.SendCertificateChain,
		CredentialSource:     cfg.Dataverse.CredentialSource(),
		RootCAs:              roots,
		Timeout:              cfg.RequestTimeout,
		Pacer:                pacer,
		Logger:               log,
	})
}

// alertCheckInterval is how often a worker looks for failures to alert
// about (one cheap Redis read); the alerts themselves are at most one per
// LEADBRIDGE_ALERT_EVERY.
const alertCheckInterval = 5 * time.Second

// keepPaused applies the admins' pause of delivery to the queues this
// worker serves (and every other delivery queue asynq knows) every few
// seconds, so that a queue created after the pause is paused too. A Redis
// error is logged once per change of state, not every tick.
func keepPaused(ctx context.Context, q *queue.Client, served []string, log *slog.Logger) error {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	var last error
	for {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := q.SyncPause(sctx, served)
		cancel()
		if err != nil && (last == nil || err.Error() != last.Error()) {
			log.Warn("could not apply the delivery pause", "err", err)
		}
		last = err
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// asynqLogger sends asynq's own log lines through slog.
type asynqLogger struct{ l *slog.Logger }

func (a asynqLogger) Debug(args ...any) { a.l.Debug(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Info(args ...any)  { a.l.Info(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Warn(args ...any)  { a.l.Warn(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Error(args ...any) { a.l.Error(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Fatal(args ...any) {
	a.l.Error(fmt.Sprint(args...), "component", "asynq")
	os.Exit(1)
}
