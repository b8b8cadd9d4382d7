package config_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/config"
	"github.com/leadbridge/leadbridge/internal/testenv"
)

// selfSignedCA returns a CA certificate and its PEM.
func selfSignedCA(t *testing.T) (*x509.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "leadbridge test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func TestRootCAs(t *testing.T) {
	ca, caPEM := selfSignedCA(t)
	good := testenv.WriteFile(t, "ca.pem", caPEM)
	notPEM := testenv.WriteFile(t, "ca.pem", "not a certificate")
	missing := filepath.Join(t.TempDir(), "ca.pem")

	pool, err := config.Dataverse{}.RootCAs(context.Background())
	if pool != nil || err != nil {
		t.Errorf("no CA file: got %v, %v; want nil (the system pool), nil", pool, err)
	}
	pool, err = config.Dataverse{CAFile: good}.RootCAs(context.Background())
	if err != nil {
		t.Fatalf("CA file: %v", err)
	}
	if _, err := ca.Verify(x509.VerifyOptions{Roots: pool}); err != nil {
		t.Errorf("the pool does not trust the file's CA: %v", err)
	}
	for _, tc := range []struct {
		name string
		d    config.Dataverse
		want string
	}{
		{"not PEM", config.Dataverse{CAFile: notPEM}, "LEADBRIDGE_CA_FILE: " + notPEM + " holds no PEM certificate"},
		{"missing", config.Dataverse{CAFile: missing}, "LEADBRIDGE_CA_FILE: open " + missing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.d.RootCAs(context.Background())
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("got %v, want an error starting %q", err, tc.want)
			}
		})
	}
	// The emulator's CA appears when the emulator starts: RootCAs waits for
	// it (until ctx ends) instead of failing at once.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (config.Dataverse{CAFile: missing, Emulated: true}).RootCAs(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("emulator's CA missing: got %v, want it to wait until the context ends", err)
	}
}
