package devcreds_test

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/leadbridge/leadbridge/emulator/devcreds"
)

// The documents a newcomer copies the dev credentials from must quote the
// values the emulator accepts; these tests fail when either side changes
// alone.

func readRepoFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func port(t *testing.T, hostport string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(hostport)
	if err != nil {
		t.Fatalf("%q: %v", hostport, err)
	}
	return p
}

func TestREADMEQuotesTheDevDefaults(t *testing.T) {
	readme := readRepoFile(t, "README.md")
	for _, want := range []string{
		"`" + devcreds.TenantID + "` / `" + devcreds.ClientID + "` / `" + devcreds.ClientSecret + "`",
		"`" + devcreds.Addr + "`, `" + devcreds.DataDir + "`",
		"<https://" + devcreds.Addr + "/>",
		"`" + devcreds.DataDir + "/ca.pem`",
	} {
		if !strings.Contains(readme, want) {
			t.Errorf("README.md does not quote %s", want)
		}
	}
}

func TestComposeQuotesTheDevDefaults(t *testing.T) {
	var compose struct {
		Services map[string]struct {
			Environment map[string]string `yaml:"environment"`
			Ports       []string          `yaml:"ports"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal([]byte(readRepoFile(t, "docker-compose.yml")), &compose); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	emu, worker := compose.Services["emulator"], compose.Services["worker"]
	if emu.Environment == nil || worker.Environment == nil {
		t.Fatalf("docker-compose.yml: services emulator and worker with an environment, got %+v", compose.Services)
	}
	p := port(t, devcreds.Addr)
	// The emulator keeps its default credentials unless the file overrides
	// them, and then it must override them with the same values.
	for name, want := range map[string]string{
		"EMULATOR_TENANT_ID":     devcreds.TenantID,
		"EMULATOR_CLIENT_ID":     devcreds.ClientID,
		"EMULATOR_CLIENT_SECRET": devcreds.ClientSecret,
	} {
		if got, set := emu.Environment[name]; set && got != want {
			t.Errorf("emulator %s: got %q, want %q", name, got, want)
		}
	}
	if got := port(t, emu.Environment["EMULATOR_ADDR"]); got != p {
		t.Errorf("emulator EMULATOR_ADDR port: got %s, want %s", got, p)
	}
	if want := p + ":" + p; len(emu.Ports) != 1 || emu.Ports[0] != want {
		t.Errorf("emulator ports: got %q, want [%q]", emu.Ports, want)
	}
	for name, want := range map[string]string{
		"AZURE_TENANT_ID":      "${AZURE_TENANT_ID:-" + devcreds.TenantID + "}",
		"AZURE_CLIENT_ID":      "${AZURE_CLIENT_ID:-" + devcreds.ClientID + "}",
		"AZURE_CLIENT_SECRET":  "${AZURE_CLIENT_SECRET:-" + devcreds.ClientSecret + "}",
		"DATAVERSE_URL":        "${DATAVERSE_URL:-https://emulator:" + p + "}",
		"AZURE_AUTHORITY_HOST": "${AZURE_AUTHORITY_HOST:-https://emulator:" + p + "}",
	} {
		if got := worker.Environment[name]; got != want {
			t.Errorf("worker %s: got %q, want %q", name, got, want)
		}
	}
}

func TestRunScriptUsesTheDevAddress(t *testing.T) {
	script := readRepoFile(t, filepath.Join("scripts", "run.sh"))
	if want := "EMULATOR_ADDR=${EMULATOR_ADDR:-" + devcreds.Addr + "}"; !strings.Contains(script, want) {
		t.Errorf("scripts/run.sh does not default %s", want)
	}
}
