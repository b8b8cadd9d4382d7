// Command dataverse-emulator serves a local Dataverse Web API v9.2 and Entra
// ID token endpoint over TLS (package emulator), for `make run`, manual
// testing and benchmarks.
//
// Environment:
//
//	EMULATOR_ADDR           listen address (default 127.0.0.1:8443)
//	EMULATOR_DATA_DIR       where ca.pem, its key and rows.json are kept (default ./.run/emulator)
//	EMULATOR_TENANT_ID      tenant the token endpoint serves (default emulator-tenant)
//	EMULATOR_CLIENT_ID      client id it accepts (default leadbridge-dev)
//	EMULATOR_CLIENT_SECRET  client secret it accepts (default leadbridge-dev-secret)
//	EMULATOR_HOSTS          extra comma-separated names for the certificate (e.g. emulator)
//	EMULATOR_CONFIG         JSON file shaped like PUT /_emulator/config, applied on start
//	                        (the app's certificates and federated credentials included)
//	EMULATOR_SEED           JSON file of rows by table, {"systemusers":[…],"campaigns":[…]},
//	                        written on start (Server.SeedTables); give rows their ids
//	                        ("systemuserid": "…") so that a restart replaces them
//	EMULATOR_PERSIST        keep the rows in EMULATOR_DATA_DIR/rows.json across restarts
//	                        (default true; false starts with empty tables every time)
//	EMULATOR_LOG_LEVEL      debug, info (default), warn or error
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/leadbridge/leadbridge/emulator"
	"github.com/leadbridge/leadbridge/emulator/devcreds"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stdout, nil); err != nil {
		fmt.Fprintln(os.Stderr, "dataverse-emulator:", err)
		os.Exit(1)
	}
}

type settings struct {
	addr, dataDir                    string
	tenantID, clientID, clientSecret string
	hosts                            []string
	persist                          bool
	config                           []byte // EMULATOR_CONFIG's contents, nil if unset
	configPath                       string
	seed                             map[string][]map[string]any // EMULATOR_SEED's rows, nil if unset
	seedPath                         string
	logLevel                         slog.Level
}

func loadSettings(getenv func(string) string) (settings, error) {
	st := settings{
		addr:         orDefault(getenv("EMULATOR_ADDR"), devcreds.Addr),
		dataDir:      orDefault(getenv("EMULATOR_DATA_DIR"), filepath.FromSlash(devcreds.DataDir)),
		tenantID:     orDefault(getenv("EMULATOR_TENANT_ID"), devcreds.TenantID),
		clientID:     orDefault(getenv("EMULATOR_CLIENT_ID"), devcreds.ClientID),
		clientSecret: orDefault(getenv("EMULATOR_CLIENT_SECRET"), devcreds.ClientSecret),
		persist:      true,
	}
	var errs []error
	if v := getenv("EMULATOR_PERSIST"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("EMULATOR_PERSIST %q: want true or false", v))
		}
		st.persist = b
	}
	if _, port, err := net.SplitHostPort(st.addr); err != nil || port == "" {
		errs = append(errs, fmt.Errorf("EMULATOR_ADDR %q is not host:port", st.addr))
	}
	// The tenant is a URL path segment and the id goes into form fields:
	// keep both to characters that need no escaping anywhere.
	if !isToken(st.tenantID) {
		errs = append(errs, fmt.Errorf("EMULATOR_TENANT_ID %q must be letters, digits, '-', '_' or '.'", st.tenantID))
	}
	if !isToken(st.clientID) {
		errs = append(errs, fmt.Errorf("EMULATOR_CLIENT_ID %q must be letters, digits, '-', '_' or '.'", st.clientID))
	}
	for _, h := range strings.Split(getenv("EMULATOR_HOSTS"), ",") {
		if h = strings.TrimSpace(h); h != "" {
			if strings.ContainsAny(h, " /:") && net.ParseIP(h) == nil {
				errs = append(errs, fmt.Errorf("EMULATOR_HOSTS: %q is not a host name or IP address", h))
			}
			st.hosts = append(st.hosts, h)
		}
	}
	if p := getenv("EMULATOR_CONFIG"); p != "" {
		b, err := os.ReadFile(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("EMULATOR_CONFIG: %w", err))
		}
		st.config, st.configPath = b, p
	}
	if p := getenv("EMULATOR_SEED"); p != "" {
		b, err := os.ReadFile(p)
		if err == nil {
			err = json.Unmarshal(b, &st.seed)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("EMULATOR_SEED: %w", err))
		}
		st.seedPath = p
	}
	if v := getenv("EMULATOR_LOG_LEVEL"); v != "" {
		if err := st.logLevel.UnmarshalText([]byte(v)); err != nil {
			errs = append(errs, fmt.Errorf("EMULATOR_LOG_LEVEL %q: want debug, info, warn or error", v))
		}
	}
	return st, errors.Join(errs...)
}

// run starts the emulator and serves until ctx ends. If ready is not nil it
// receives the emulator's URL once it serves.
func run(ctx context.Context, getenv func(string) string, stdout io.Writer, ready chan<- string) error {
	st, err := loadSettings(getenv)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stdout, &slog.HandlerOptions{Level: st.logLevel}))
	srv, err := emulator.Start(emulator.Options{
		Addr:         st.addr,
		DataDir:      st.dataDir,
		TenantID:     st.tenantID,
		ClientID:     st.clientID,
		ClientSecret: st.clientSecret,
		Hosts:        st.hosts,
		Persist:      st.persist,
		Logger:       log,
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	if st.config != nil {
		// Applied as a patch onto the defaults, exactly as PUT would be.
		if err := srv.UpdateConfig(st.config); err != nil {
			return fmt.Errorf("EMULATOR_CONFIG %s: %w", st.configPath, err)
		}
	}
	if st.seed != nil {
		if err := srv.SeedTables(st.seed); err != nil {
			return fmt.Errorf("EMULATOR_SEED %s: %w", st.seedPath, err)
		}
	}
	caPath, err := filepath.Abs(filepath.Join(st.dataDir, "ca.pem"))
	if err != nil {
		return err
	}
	// The credentials are development values, meant to be copied into the
	// worker's environment; printing them is the point.
	fmt.Fprintf(stdout, `Dataverse emulator ready
  DATAVERSE_URL=%[1]s
  AZURE_AUTHORITY_HOST=%[1]s
  AZURE_TENANT_ID=%[2]s
  AZURE_CLIENT_ID=%[3]s
  AZURE_CLIENT_SECRET=%[4]s
  LEADBRIDGE_CA_FILE=%[5]s
  overview: %[1]s/
`, srv.URL(), st.tenantID, st.clientID, st.clientSecret, caPath)
	log.Info("started", "url", srv.URL(), "ca_file", caPath, "persist", st.persist)
	if ready != nil {
		ready <- srv.URL()
	}

	<-ctx.Done()
	log.Info("shutting down")
	return srv.Close()
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
		default:
			return false
		}
	}
	return true
}
