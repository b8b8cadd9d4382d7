package crm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
)

// credential is how the client proves to Entra ID that it is the app
// registration: a client secret, a certificate (MSAL signs a client
// assertion with its key for every token request) or a federated token
// (workload identity: a token another issuer, such as a Kubernetes cluster,
// gave the workload, exchanged for an Entra token).
func credential(cfg Config) (confidential.Credential, error) {
	n := 0
	for _, set := range []bool{cfg.ClientSecret != "", cfg.PrivateKey != nil, cfg.FederatedTokenFile != ""} {
		if set {
			n++
		}
	}
	if n != 1 {
		return confidential.Credential{}, errors.New("crm: give exactly one of ClientSecret, PrivateKey (with Certificates) or FederatedTokenFile")
	}
	switch {
	case cfg.PrivateKey != nil:
		cred, err := confidential.NewCredFromCert(cfg.Certificates, cfg.PrivateKey)
		if err != nil {
			return cred, fmt.Errorf("crm: client certificate: %w", err)
		}
		return cred, nil
	case cfg.FederatedTokenFile != "":
		path := cfg.FederatedTokenFile
		// Read for every token request, never cached: the kubelet replaces
		// the file well before the token in it expires.
		return confidential.NewCredFromAssertionCallback(func(context.Context, confidential.AssertionRequestOptions) (string, error) {
			b, err := readTokenFile(path)
			if err != nil {
				return "", fmt.Errorf("crm: federated token file: %w", err)
			}
			tok := strings.TrimSpace(string(b))
			if tok == "" {
				return "", fmt.Errorf("crm: federated token file %s is empty", path)
			}
			return tok, nil
		}), nil
	}
	cred, err := confidential.NewCredFromSecret(cfg.ClientSecret)
	if err != nil {
		return cred, fmt.Errorf("crm: client secret: %w", err)
	}
	return cred, nil
}

// maxTokenFile bounds a federated token file: a service account token is a
// few kilobytes.
const maxTokenFile = 1 << 20

func readTokenFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxTokenFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxTokenFile {
		return nil, fmt.Errorf("%s is larger than %d bytes, too large for a token", path, maxTokenFile)
	}
	return b, nil
}
