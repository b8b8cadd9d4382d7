package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/leadbridge/leadbridge/config"
	"github.com/leadbridge/leadbridge/configcheck"
	"github.com/leadbridge/leadbridge/crm"
	"github.com/leadbridge/leadbridge/internal/logging"
)

// How long the configuration check may take: at start, where a slow org
// must not hold the worker back for long, and for worker -check.
const (
	startCheckTimeout = 30 * time.Second
	checkTimeout      = 2 * time.Minute
)

// errCheckFailed ends worker -check when the report found a problem or
// could not check everything; the report itself is on stdout.
var errCheckFailed = errors.New("configuration check failed")

// check is worker -check: it loads the configuration as run does, checks
// it against the org's table definitions, prints the report to stdout and
// returns errCheckFailed unless it passed. It needs no Redis; without the
// fleet's pacer its requests wait out Dataverse's Retry-After themselves.
func check(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	log := logging.New(io.Discard, getenv("LEADBRIDGE_LOG_FORMAT"), getenv("LEADBRIDGE_LOG_LEVEL"))
	report := func(r *configcheck.Report) error {
		if err := r.Write(stdout); err != nil {
			return err
		}
		if !r.OK() {
			return errCheckFailed
		}
		return nil
	}
	cfg, err := config.LoadWorker(getenv)
	if err != nil {
		return report(configcheck.LoadFailed(err))
	}
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	in := configcheck.Input{Forms: cfg.Forms, Sources: sourceIDs(cfg), ConfigPath: getenv("LEADBRIDGE_CONFIG"), Getenv: getenv, Org: cfg.Dataverse.URL}
	roots, err := cfg.Dataverse.RootCAs(ctx)
	if err != nil {
		return report(configcheck.LoadFailed(err))
	}
	client, err := newCRM(cfg, roots, nil, log)
	if err != nil {
		return report(configcheck.LoadFailed(err))
	}
	in.Tables = client
	return report(configcheck.Check(ctx, in))
}

// checkAtStart runs the configuration check as the worker starts. Its
// findings are logged as warnings (they hold configuration only: YAML
// paths, columns, option values, variable names — no submission's data);
// with LEADBRIDGE_STRICT_CONFIG a problem refuses the start instead. The
// columns are checked only when the org answered WhoAmI: an org that is
// down now is what retries are for, in strict mode too.
func checkAtStart(ctx context.Context, cfg config.Worker, client *crm.Client, reachable bool, getenv func(string) string, log *slog.Logger) error {
	in := configcheck.Input{Forms: cfg.Forms, Sources: sourceIDs(cfg), ConfigPath: getenv("LEADBRIDGE_CONFIG"), Getenv: getenv, Org: cfg.Dataverse.URL}
	if reachable {
		in.Tables = client
	}
	cctx, cancel := context.WithTimeout(ctx, startCheckTimeout)
	defer cancel()
	r := configcheck.Check(cctx, in)
	if cfg.StrictConfig && r.Problems() > 0 {
		return fmt.Errorf("LEADBRIDGE_STRICT_CONFIG is set and the configuration check found problems:\n%s", r)
	}
	for _, f := range r.Findings {
		log.Warn("configuration check", "severity", string(f.Severity), "path", f.Path, "form", f.Form, "field", f.Field, "finding", f.Message)
	}
	switch {
	case !reachable:
		log.Warn("configuration check: columns not checked, Dataverse did not answer at start")
	case r.Unchecked != "":
		log.Warn("configuration check: columns not checked", "reason", r.Unchecked)
	}
	log.Info("configuration checked", "problems", r.Problems(), "warnings", r.Warnings(), "strict", cfg.StrictConfig)
	return nil
}

func sourceIDs(cfg config.Worker) []string {
	ids := make([]string, 0, len(cfg.Sources))
	for id := range cfg.Sources {
		ids = append(ids, id)
	}
	return ids
}
