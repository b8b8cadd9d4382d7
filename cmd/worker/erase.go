package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/leadbridge/leadbridge/audit"
	"github.com/leadbridge/leadbridge/config"
	"github.com/leadbridge/leadbridge/erase"
	"github.com/leadbridge/leadbridge/internal/logging"
	"github.com/leadbridge/leadbridge/queue"
	"github.com/leadbridge/leadbridge/submission"
)

// runErase is `worker erase --email x@y [--phone …] [--dry-run]`: it removes
// a person from leadbridge's Redis (package erase), prints what it removed
// by kind, and writes the erasure in the audit log under a reference to
// the address, never the address.
func runErase(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("worker erase", flag.ContinueOnError)
	fs.SetOutput(stdout)
	var p erase.Person
	fs.StringVar(&p.Email, "email", "", "the person's email address (any case)")
	fs.StringVar(&p.Phone, "phone", "", "the person's phone number (at least 10 digits; any separators)")
	dry := fs.Bool("dry-run", false, "count what would be erased, erase nothing")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("erase: unexpected argument %q (use --email and --phone)", fs.Arg(0))
	}
	log := logging.New(stdout, getenv("LEADBRIDGE_LOG_FORMAT"), getenv("LEADBRIDGE_LOG_LEVEL"))
	rc, err := config.LoadRedisOnly(getenv)
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	rdb, err := rc.Client()
	if err != nil {
		return err
	}
	defer rdb.Close()
	// The store's retention plays no part in deleting.
	e := erase.New(rdb, submission.NewStore(rdb, 0), queue.NewClient(rdb))
	rep, err := e.Erase(ctx, p, *dry)
	if err != nil {
		if errors.Is(err, erase.ErrNoPerson) {
			fs.Usage()
		}
		return err
	}
	if !*dry {
		err := audit.New(rdb).Add(ctx, audit.Entry{By: "worker erase (command line)", Action: "erase", Detail: rep.AuditDetail()})
		if err != nil {
			log.Warn("erased, but the audit log could not be written", "err", err)
		}
	}
	log.Info("erase", "dry_run", *dry, "submissions", rep.Total(), "email_ref", rep.EmailRef)
	fmt.Fprintln(stdout, rep.Summary())
	return nil
}
