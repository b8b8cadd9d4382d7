package scripts

import (
	"context"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/leadbridge/leadbridge/config"
)

// loadCompose loads docker-compose.yml with compose-go, the loader `docker
// compose` itself uses (interpolation, normalization, path resolution,
// validation against the compose spec), given exactly env as the user's
// environment: nothing from this process and no .env file.
func loadCompose(t *testing.T, env map[string]string) *types.Project {
	t.Helper()
	root := repoRoot(t)
	var list []string
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithName("leadbridge"), cli.WithWorkingDirectory(root), cli.WithEnv(list), cli.WithResolvedPaths(true))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	return p
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, err := p.GetService(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// getenv is a service's environment as its program reads it: unset and
// empty alike are "".
func getenv(s types.ServiceConfig) func(string) string {
	return func(k string) string {
		if v := s.Environment[k]; v != nil {
			return *v
		}
		return ""
	}
}

// mountAt is the service's volume mounted on dir, if any.
func mountAt(s types.ServiceConfig, dir string) (types.ServiceVolumeConfig, bool) {
	for _, v := range s.Volumes {
		if path.Clean(v.Target) == path.Clean(dir) {
			return v, true
		}
	}
	return types.ServiceVolumeConfig{}, false
}

// flagValue is the value after flag in a command line.
func flagValue(cmd []string, flag string) string {
	if i := slices.Index(cmd, flag); i >= 0 && i+1 < len(cmd) {
		return cmd[i+1]
	}
	return ""
}

func TestComposeEveryServiceHasAHealthCheckItsImageCanRun(t *testing.T) {
	dockerfile, err := os.ReadFile(filepath.Join(repoRoot(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	p := loadCompose(t, nil)
	for _, s := range p.Services {
		hc := s.HealthCheck
		if hc == nil || hc.Disable || len(hc.Test) < 2 {
			t.Errorf("%s: health check %+v, want one that runs a command", s.Name, hc)
			continue
		}
		if s.Build == nil {
			continue // a published image (redis) ships its own tools
		}
		// Our image is distroless: no shell for CMD-SHELL, and only the
		// programs the Dockerfile builds and copies.
		prog := hc.Test[1]
		name, ok := strings.CutPrefix(prog, "/usr/local/bin/")
		if hc.Test[0] != "CMD" || !ok {
			t.Errorf("%s: health check %q, want CMD and a program in /usr/local/bin", s.Name, hc.Test)
			continue
		}
		for _, want := range []string{"./cmd/" + name, "/out/" + name} {
			if !strings.Contains(string(dockerfile), want) {
				t.Errorf("%s: health check runs %s, but the Dockerfile has no %s", s.Name, prog, want)
			}
		}
	}
}

func TestComposePublishesPortsOnLoopbackOnly(t *testing.T) {
	p := loadCompose(t, nil)
	for _, s := range p.Services {
		for _, port := range s.Ports {
			if port.Published != "" && port.HostIP != "127.0.0.1" {
				t.Errorf("%s publishes %s:%s, want 127.0.0.1", s.Name, port.HostIP, port.Published)
			}
		}
	}
}

func TestComposeRedisKeepsAnAppendOnlyFile(t *testing.T) {
	cmd := service(t, loadCompose(t, nil), "redis").Command
	if flagValue(cmd, "--appendonly") != "yes" {
		t.Errorf("redis command %q, want --appendonly yes", cmd)
	}
}

func TestComposeStatusAPIIsOffUntilATokenIsSet(t *testing.T) {
	api := service(t, loadCompose(t, nil), "api")
	cfg, err := config.LoadAPI(getenv(api))
	if err != nil {
		t.Fatalf("the api refuses compose's default environment: %v", err)
	}
	if cfg.APIToken != "" {
		t.Errorf("LEADBRIDGE_API_TOKEN defaults to %q, want no default", cfg.APIToken)
	}

	const token = "a-token-of-my-own-0123"
	api = service(t, loadCompose(t, map[string]string{"LEADBRIDGE_API_TOKEN": token}), "api")
	if got := getenv(api)("LEADBRIDGE_API_TOKEN"); got != token {
		t.Errorf("LEADBRIDGE_API_TOKEN set by the user reaches the api as %q, want %q", got, token)
	}
}

func TestComposeAdminConsoleIsOffUntilASignInIsSet(t *testing.T) {
	api := service(t, loadCompose(t, nil), "api")
	if cfg, err := config.LoadAPI(getenv(api)); err != nil || cfg.Admin.Enabled() {
		t.Fatalf("compose's default environment: console on %v, %v; want it off, with no default sign-in", cfg.Admin.Enabled(), err)
	}
	hash := "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy" // "$" survives compose's interpolation
	env := map[string]string{"LEADBRIDGE_ADMIN_USER": "ops", "LEADBRIDGE_ADMIN_PASSWORD_HASH": hash, "LEADBRIDGE_ALERT_WEBHOOK_URL": "https://hooks.example.com/x"}
	p := loadCompose(t, env)
	if cfg, err := config.LoadAPI(getenv(service(t, p, "api"))); err != nil || !cfg.Admin.Enabled() || string(cfg.Admin.PasswordHash) != hash {
		t.Errorf("the admin sign-in set by the user: %v, hash %q", err, cfg.Admin.PasswordHash)
	}
	if got := getenv(service(t, p, "worker"))("LEADBRIDGE_ALERT_WEBHOOK_URL"); got != env["LEADBRIDGE_ALERT_WEBHOOK_URL"] {
		t.Errorf("the alert webhook reaches the worker as %q", got)
	}
}

func TestComposeWorkerWritesToTheEmulatorByDefault(t *testing.T) {
	p := loadCompose(t, nil)
	worker, emu := service(t, p, "worker"), service(t, p, "emulator")
	cfg, err := config.LoadWorker(getenv(worker))
	if err != nil {
		t.Fatalf("the worker refuses compose's default environment: %v", err)
	}
	d := cfg.Dataverse
	if !d.Emulated || d.URL != "https://emulator:8443" || d.AuthorityHost != d.URL {
		t.Errorf("worker's Dataverse = %+v, want the emulator at https://emulator:8443 as both API and authority", d)
	}

	// The CA file the worker trusts is the one the emulator's health check
	// publishes: the same volume, read-only in the worker.
	published := flagValue(emu.HealthCheck.Test, "-publish-ca")
	if path.Base(published) != path.Base(d.CAFile) {
		t.Fatalf("the emulator publishes %q, the worker reads %q", published, d.CAFile)
	}
	from, ok1 := mountAt(emu, path.Dir(published))
	to, ok2 := mountAt(worker, path.Dir(d.CAFile))
	if !ok1 || !ok2 || from.Type != types.VolumeTypeVolume || from.Source != to.Source {
		t.Errorf("emulator mounts %+v on %s, worker mounts %+v on %s: want one named volume", from, path.Dir(published), to, path.Dir(d.CAFile))
	}
	if !to.ReadOnly {
		t.Errorf("the worker mounts %s read-write, want read-only", to.Source)
	}
}

func TestComposeWorkerGivenARealOrgUsesNothingOfTheEmulator(t *testing.T) {
	p := loadCompose(t, map[string]string{
		"DATAVERSE_URL":       "https://contoso.crm.dynamics.com",
		"AZURE_TENANT_ID":     "00000000-0000-0000-0000-000000000001",
		"AZURE_CLIENT_ID":     "00000000-0000-0000-0000-000000000002",
		"AZURE_CLIENT_SECRET": "a-secret",
	})
	worker := service(t, p, "worker")
	for _, k := range []string{"AZURE_AUTHORITY_HOST", "LEADBRIDGE_CA_FILE"} {
		if v := getenv(worker)(k); v != "" {
			t.Errorf("%s = %q with a real org the user did not point there, want unset", k, v)
		}
	}
	cfg, err := config.LoadWorker(getenv(worker))
	if err != nil {
		t.Fatalf("the worker refuses a real org's settings: %v", err)
	}
	d := cfg.Dataverse
	if d.Emulated || d.URL != "https://contoso.crm.dynamics.com" {
		t.Errorf("worker's Dataverse = %+v, want https://contoso.crm.dynamics.com", d)
	}
	if d.AuthorityHost != "https://login.microsoftonline.com" {
		t.Errorf("authority = %q, want https://login.microsoftonline.com: a real org's secret must not go to the emulator", d.AuthorityHost)
	}
	if d.CAFile != "" {
		t.Errorf("the worker trusts extra CA %q with a real org, want none", d.CAFile)
	}
}

func TestComposeEmulatorKeyIsInAVolumeNoOtherServiceMounts(t *testing.T) {
	p := loadCompose(t, nil)
	emu := service(t, p, "emulator")
	dataDir := getenv(emu)("EMULATOR_DATA_DIR") // where it writes ca.pem and ca-key.pem
	key, ok := mountAt(emu, dataDir)
	if !ok || key.Type != types.VolumeTypeVolume {
		t.Fatalf("the emulator's EMULATOR_DATA_DIR %q is not a named volume (%+v)", dataDir, key)
	}
	for _, s := range p.Services {
		if s.Name == emu.Name {
			continue
		}
		for _, v := range s.Volumes {
			if v.Source == key.Source {
				t.Errorf("%s mounts %s, which holds the emulator's CA key", s.Name, key.Source)
			}
		}
	}
}

func TestComposeMountsTheForms(t *testing.T) {
	const inside = "/etc/leadbridge/forms.yml"
	t.Run("file given", func(t *testing.T) {
		p := loadCompose(t, map[string]string{"LEADBRIDGE_CONFIG": "./forms.yml"})
		for _, name := range []string{"api", "worker"} {
			s := service(t, p, name)
			if got := getenv(s)("LEADBRIDGE_CONFIG"); got != inside {
				t.Errorf("%s: LEADBRIDGE_CONFIG = %q, want %q", name, got, inside)
			}
			m, ok := mountAt(s, inside)
			want := filepath.Join(repoRoot(t), "forms.yml")
			if !ok || m.Type != types.VolumeTypeBind || m.Source != want || !m.ReadOnly {
				t.Errorf("%s: mount on %s = %+v, want %s bound read-only", name, inside, m, want)
			}
		}
	})
	t.Run("none given", func(t *testing.T) {
		p := loadCompose(t, nil)
		for _, name := range []string{"api", "worker"} {
			if got := getenv(service(t, p, name))("LEADBRIDGE_CONFIG"); got != "" {
				t.Errorf("%s: LEADBRIDGE_CONFIG = %q, want empty (the built-in demo form)", name, got)
			}
		}
	})
}

// A certificate or a federated token file named on the host is mounted
// read-only into the worker, which is pointed at the mounted copy; without
// one the worker sees neither variable.
func TestComposeMountsTheWorkersCredentialFiles(t *testing.T) {
	files := map[string]string{
		"AZURE_CLIENT_CERTIFICATE_PATH": "/etc/leadbridge/dataverse-certificate",
		"AZURE_FEDERATED_TOKEN_FILE":    "/etc/leadbridge/federated-token",
	}
	for k, inside := range files {
		t.Run(k, func(t *testing.T) {
			p := loadCompose(t, map[string]string{"DATAVERSE_URL": "https://contoso.crm.dynamics.com", k: "./secrets/app.pem"})
			w := service(t, p, "worker")
			if got := getenv(w)(k); got != inside {
				t.Errorf("%s = %q, want %q", k, got, inside)
			}
			m, ok := mountAt(w, inside)
			want := filepath.Join(repoRoot(t), "secrets", "app.pem")
			if !ok || m.Type != types.VolumeTypeBind || m.Source != want || !m.ReadOnly {
				t.Errorf("mount on %s = %+v, want %s bound read-only", inside, m, want)
			}
			for other := range files {
				if other != k && getenv(w)(other) != "" {
					t.Errorf("%s = %q, want unset", other, getenv(w)(other))
				}
			}
			if _, ok := mountAt(service(t, p, "api"), inside); ok {
				t.Errorf("the api mounts %s, want only the worker", inside)
			}
		})
	}
	p := loadCompose(t, nil)
	for k := range files {
		if v := getenv(service(t, p, "worker"))(k); v != "" {
			t.Errorf("none given: %s = %q, want unset", k, v)
		}
	}
}
