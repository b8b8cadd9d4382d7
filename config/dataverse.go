package config

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"time"
)

// emulatorCAWait is how long RootCAs waits for the bundled emulator to
// write its CA: `make run` starts both at once.
const emulatorCAWait = 30 * time.Second

// RootCAs is the system pool plus LEADBRIDGE_CA_FILE, or nil (the system
// pool) when no file is set. For the bundled emulator the file appears when
// the emulator first starts, so it waits for it a little, until ctx ends.
func (d Dataverse) RootCAs(ctx context.Context) (*x509.CertPool, error) {
	if d.CAFile == "" {
		return nil, nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	deadline := time.Now().Add(emulatorCAWait)
	for {
		pem, err := os.ReadFile(d.CAFile)
		if err == nil {
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("LEADBRIDGE_CA_FILE: %s holds no PEM certificate", d.CAFile)
			}
			return pool, nil
		}
		if !d.Emulated || !errors.Is(err, os.ErrNotExist) || time.Now().After(deadline) {
			if d.Emulated {
				return nil, fmt.Errorf("the emulator's CA %s is missing: start cmd/dataverse-emulator first (make run does), or set DATAVERSE_URL: %w", d.CAFile, err)
			}
			return nil, fmt.Errorf("LEADBRIDGE_CA_FILE: %w", err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}
