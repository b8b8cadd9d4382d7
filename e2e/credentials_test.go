package e2e

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/internal/testenv"
)

// TestEnterpriseCredentialsDeliverLeads signs the worker in to the
// emulator's Entra ID with each credential an enterprise uses instead of a
// client secret — a certificate as PEM and as PKCS#12, a workload identity
// token file — and checks that leads are delivered with each; the emulator
// verifies every client assertion (signature, thumbprint, audience, times).
// The worker has no secret at all. A certificate the app registration does
// not know is refused with Entra's AADSTS700027 in a message that names
// AZURE_CLIENT_CERTIFICATE_PATH, and the submission waiting on it is
// delivered once the certificate is registered.
func TestEnterpriseCredentialsDeliverLeads(t *testing.T) {
	now := time.Now()
	cc := testenv.NewClientCert(t, "leadbridge-worker", now.Add(-time.Hour), now.Add(30*24*time.Hour))
	s := startStack(t, options{workers: -1, env: map[string]string{"AZURE_CLIENT_SECRET": ""}})
	configure := func(v map[string]any) {
		t.Helper()
		b, _ := json.Marshal(v)
		s.Emu.Configure(string(b))
	}
	configure(map[string]any{"certificates": []string{string(cc.CertPEM)}})

	deliverWith := func(name string, env map[string]string, email string) {
		t.Helper()
		for k, v := range env {
			s.env[k] = v
		}
		defer func() {
			for k := range env {
				delete(s.env, k)
			}
		}()
		w := s.StartWorker()
		defer w.Stop()
		code, body := s.postJSON("demo", map[string]any{"last_name": "Lee", "email": email})
		if code != http.StatusAccepted {
			t.Fatalf("%s: post: got %d %v", name, code, body)
		}
		s.waitStatus(body["id"].(string), "delivered", 60*time.Second)
		if n := len(s.leadsByEmail(email)); n != 1 {
			t.Errorf("%s: got %d leads for %s, want 1", name, n, email)
		}
		if !strings.Contains(w.Output(), `credential="client certificate"`) && !strings.Contains(w.Output(), `credential="federated token"`) {
			t.Errorf("%s: worker did not log which credential it signs in with:\n%s", name, w.Output())
		}
	}

	// Each step is a func so that its deferred clean-up (its worker
	// stopped, its settings undone) runs before the next step.
	// certificate as PEM.
	func() {
		deliverWith("PEM", map[string]string{"AZURE_CLIENT_CERTIFICATE_PATH": cc.PEMFile(t)}, "pem@example.com")
	}()
	// certificate as PKCS#12, sending its chain.
	func() {
		deliverWith("PKCS#12", map[string]string{
			"AZURE_CLIENT_CERTIFICATE_PATH":       cc.PFXFile(t, "pfx password"),
			"AZURE_CLIENT_CERTIFICATE_PASSWORD":   "pfx password",
			"AZURE_CLIENT_SEND_CERTIFICATE_CHAIN": "true", // x5c, checked against the thumbprint's certificate
		}, "pfx@example.com")
	}()

	// federated token file, re-read as it rotates.
	func() {
		const issuer, subject = "https://oidc.cluster.example/e2e", "system:serviceaccount:leads:worker"
		key1, _ := rsa.GenerateKey(rand.Reader, 2048)
		key2, _ := rsa.GenerateKey(rand.Reader, 2048)
		// Tokens shorter-lived than MSAL's five-minute margin: every
		// Dataverse call needs a token, so every call reads the file.
		configure(map[string]any{"token_lifetime_seconds": 60, "federated_credentials": []map[string]any{
			{"name": "aks", "issuer": issuer, "subject": subject, "issuer_keys": []string{publicPEM(t, &key1.PublicKey)}}}})
		defer configure(map[string]any{"token_lifetime_seconds": 3599})
		tokenFile := testenv.WriteFile(t, "azure-identity-token", serviceAccountToken(t, key1, issuer, subject))
		for k, v := range map[string]string{"AZURE_FEDERATED_TOKEN_FILE": tokenFile} {
			s.env[k] = v
		}
		defer delete(s.env, "AZURE_FEDERATED_TOKEN_FILE")
		w := s.StartWorker()
		defer w.Stop()
		for i, key := range []*rsa.PrivateKey{key1, key2} {
			if i == 1 {
				// The cluster rotates its signing key and the kubelet the
				// file: only a worker that reads the file anew signs in.
				configure(map[string]any{"federated_credentials": []map[string]any{
					{"name": "aks", "issuer": issuer, "subject": subject, "issuer_keys": []string{publicPEM(t, &key2.PublicKey)}}}})
				if err := os.WriteFile(tokenFile, []byte(serviceAccountToken(t, key, issuer, subject)), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			email := fmt.Sprintf("federated%d@example.com", i)
			code, body := s.postJSON("demo", map[string]any{"last_name": "Lee", "email": email})
			if code != http.StatusAccepted {
				t.Fatalf("post: got %d %v", code, body)
			}
			s.waitStatus(body["id"].(string), "delivered", 60*time.Second)
		}
		if !strings.Contains(w.Output(), `credential="federated token"`) {
			t.Errorf("worker did not log that it signs in with a federated token:\n%s", w.Output())
		}
	}()

	// unregistered certificate is refused, naming the variable.
	func() {
		stranger := testenv.NewClientCert(t, "not-registered", now.Add(-time.Hour), now.Add(24*time.Hour))
		s.env["AZURE_CLIENT_CERTIFICATE_PATH"] = stranger.PEMFile(t)
		defer delete(s.env, "AZURE_CLIENT_CERTIFICATE_PATH")
		w := s.StartWorker()
		defer w.Stop()
		testenv.Eventually(t, 30*time.Second, func() string {
			out := w.Output()
			if strings.Contains(out, "dataverse check failed") && strings.Contains(out, "AZURE_CLIENT_CERTIFICATE_PATH") && strings.Contains(out, "AADSTS700027") {
				return ""
			}
			return "worker log has no start-up check failure naming AZURE_CLIENT_CERTIFICATE_PATH and AADSTS700027:\n" + out
		})
		code, body := s.postJSON("demo", map[string]any{"last_name": "Lee", "email": "stranger@example.com"})
		if code != http.StatusAccepted {
			t.Fatalf("post: got %d %v", code, body)
		}
		id := body["id"].(string)
		testenv.Eventually(t, 30*time.Second, func() string {
			rec := s.submission(id)
			le, _ := rec["last_error"].(map[string]any)
			msg, _ := le["message"].(string)
			if rec["status"] == "retrying" && le["category"] == "auth" && strings.Contains(msg, "AZURE_CLIENT_CERTIFICATE_PATH") && strings.Contains(msg, "AADSTS700027") {
				return ""
			}
			return fmt.Sprintf("submission: status %v, last error %v; want retrying with an auth error naming AZURE_CLIENT_CERTIFICATE_PATH", rec["status"], rec["last_error"])
		})
		if n := len(s.leadsByEmail("stranger@example.com")); n != 0 {
			t.Fatalf("got %d leads from a refused sign-in, want 0", n)
		}
		// Uploading the certificate to the app registration is the fix.
		configure(map[string]any{"certificates": []string{string(cc.CertPEM), string(stranger.CertPEM)}})
		s.waitStatus(id, "delivered", 90*time.Second)
	}()
}

// serviceAccountToken is a token shaped like a Kubernetes projected
// service account token for Entra workload identity.
func serviceAccountToken(t *testing.T, key *rsa.PrivateKey, issuer, subject string) string {
	t.Helper()
	enc := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	now := time.Now()
	signed := enc(map[string]any{"alg": "RS256", "kid": "k"}) + "." + enc(map[string]any{
		"iss": issuer, "sub": subject, "aud": []string{"api://AzureADTokenExchange"},
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	})
	sum := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func publicPEM(t *testing.T, k *rsa.PublicKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}
