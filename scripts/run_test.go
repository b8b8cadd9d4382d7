// Package scripts holds no Go code of its own: its tests run scripts/run.sh
// (what `make run` runs) as a user would, against a private Redis on free
// ports, and check docker-compose.yml with the loader docker compose uses.
package scripts

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/leadbridge/leadbridge/internal/testenv"
)

// runDir is LEADBRIDGE_RUN_DIR for every test here: one directory, so that
// run.sh links the programs once and later runs find them up to date.
var runDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "leadbridge-run-")
	if err != nil {
		panic(err)
	}
	runDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// The first build of the programs may download modules and compile every
// dependency; on a busy 2-core machine that takes minutes. This is a
// deadline for a run that is going wrong, not a measure of speed.
const startDeadline = 8 * time.Minute

// repoRoot is the repository, where make and scripts/run.sh are run from.
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// runEnv is this process's environment without anything that configures
// leadbridge or make (the tests may run under `make test`), plus the
// settings given: every address free, everything written in runDir.
func runEnv(t testing.TB, set map[string]string) []string {
	t.Helper()
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "LEADBRIDGE_"), strings.HasPrefix(k, "EMULATOR_"),
			strings.HasPrefix(k, "DATAVERSE_"), strings.HasPrefix(k, "AZURE_"),
			k == "MAKEFLAGS", k == "MFLAGS", k == "MAKELEVEL", k == "MAKEOVERRIDES":
			continue
		}
		env = append(env, kv)
	}
	all := map[string]string{
		"LEADBRIDGE_RUN_DIR":     runDir,
		"LEADBRIDGE_ADDR":        testenv.FreeAddr(t),
		"LEADBRIDGE_WORKER_ADDR": testenv.FreeAddr(t),
		"EMULATOR_ADDR":          testenv.FreeAddr(t),
		"EMULATOR_DATA_DIR":      t.TempDir(),
	}
	for k, v := range set {
		all[k] = v
	}
	for k, v := range all {
		env = append(env, k+"="+v)
	}
	return env
}

func envValue(env []string, key string) string {
	for _, kv := range env {
		if k, v, _ := strings.Cut(kv, "="); k == key {
			return v
		}
	}
	return ""
}

// script is scripts/run.sh running in a process group of its own, with no
// terminal: signals reach it the way `kill -INT -<pgid>` or timeout send them.
type script struct {
	cmd  *exec.Cmd
	out  *testenv.Buffer
	done chan struct{}
}

func startScript(t *testing.T, env []string) *script {
	t.Helper()
	s := &script{out: &testenv.Buffer{}, done: make(chan struct{})}
	s.cmd = exec.Command(filepath.Join(repoRoot(t), "scripts", "run.sh"))
	s.cmd.Env = env
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start run.sh: %v", err)
	}
	go func() { s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		stopGroup(s.cmd.Process.Pid, s.done)
		if t.Failed() {
			t.Logf("run.sh output:\n%s", s.out)
		}
	})
	return s
}

// stopGroup ends a test's process group if it still runs: SIGTERM, which
// run.sh turns into a clean stop, then SIGKILL after a minute.
func stopGroup(pgid int, done <-chan struct{}) {
	select {
	case <-done:
		return
	default:
	}
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(time.Minute):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-done
	}
}

func (s *script) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// waitOutput waits until the output holds want, failing at once if the
// script ends first.
func waitOutput(t *testing.T, out func() string, exited func() bool, want string) {
	t.Helper()
	testenv.Eventually(t, startDeadline, func() string {
		if strings.Contains(out(), want) {
			return ""
		}
		if exited() {
			t.Fatalf("run.sh ended before printing %q", want)
		}
		return "run.sh has not printed " + want
	})
}

// waitExit waits for the script to end and returns its exit status.
func (s *script) waitExit(t *testing.T) int {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(startDeadline):
		t.Fatalf("run.sh still running after %s", startDeadline)
	}
	return s.cmd.ProcessState.ExitCode()
}

func TestRunReusesRedisAndListsConfiguredForms(t *testing.T) {
	r := testenv.StartRedis(t)
	forms := testenv.WriteFile(t, "forms.yml", `
forms:
  contact-us:
    title: Contact us
    allowed_origins: ["*"]
    match: [email]
    fields:
      email:     {column: emailaddress1, rules: "required,email,max=100"}
      last_name: {column: lastname,      rules: "required,max=50"}
  partners:
    title: Partners
    allowed_origins: ["*"]
    match: [email]
    fields:
      email:     {column: emailaddress1, rules: "required,email,max=100"}
      last_name: {column: lastname,      rules: "required,max=50"}
`)
	env := runEnv(t, map[string]string{
		"LEADBRIDGE_REDIS_URL":  strings.TrimSuffix(r.URL, "/0") + "/3",
		"LEADBRIDGE_CONFIG":     forms,
		"LEADBRIDGE_LOG_FORMAT": "json", // the form list is read from the API's JSON log line too
	})
	s := startScript(t, env)
	// The banner's last line: the script prints it in pieces, so wait for
	// the end of it, not its first line.
	waitOutput(t, s.out.String, s.exited, "EMULATOR_PERSIST=false to forget them)")

	banner := s.out.String()
	api := "http://" + envValue(env, "LEADBRIDGE_ADDR")
	for _, want := range []string{
		api + "/f/contact-us",
		api + "/f/partners",
		r.Addr + ", DB 3 (already running: reused",
		"admin console    " + api + "/admin   (sign in as admin / dev-password-change-me)",
		"emulator rows    kept in " + envValue(env, "EMULATOR_DATA_DIR") + "/rows.json (EMULATOR_PERSIST=false to forget them)",
	} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %q", want)
		}
	}
	if strings.Contains(banner, "/f/demo") {
		t.Errorf("banner advertises /f/demo, which %s does not define", forms)
	}

	// What the banner says is where leadbridge writes: the worker's queue
	// keys appear in DB 3, none in DB 0.
	ctx := context.Background()
	db := func(n int) *redis.Client {
		c := redis.NewClient(&redis.Options{Addr: r.Addr, DB: n})
		t.Cleanup(func() { c.Close() })
		return c
	}
	db3, db0 := db(3), db(0)
	testenv.Eventually(t, time.Minute, func() string {
		if n, err := db3.DBSize(ctx).Result(); err != nil || n == 0 {
			return fmt.Sprintf("DB 3 holds %d keys (%v), want some", n, err)
		}
		return ""
	})
	if n, err := db0.DBSize(ctx).Result(); err != nil || n != 0 {
		t.Errorf("DB 0 holds %d keys (%v), want 0: leadbridge wrote outside the DB the banner names", n, err)
	}

	if err := syscall.Kill(-s.cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := s.waitExit(t); code != 0 {
		t.Errorf("run.sh exit status after SIGINT = %d, want 0", code)
	}
	if strings.Contains(s.out.String(), "unexpectedly") {
		t.Error("run.sh reported a failure on SIGINT")
	}
	if err := db0.Ping(ctx).Err(); err != nil {
		t.Errorf("the reused Redis was stopped: %v; run.sh must stop only what it started", err)
	}
}

func TestRunReportsATakenPortAsSoonAsTheProgramExits(t *testing.T) {
	r := testenv.StartRedis(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	env := runEnv(t, map[string]string{
		"LEADBRIDGE_REDIS_URL": r.URL,
		"LEADBRIDGE_ADDR":      taken.Addr().String(),
	})
	s := startScript(t, env)
	if code := s.waitExit(t); code != 1 {
		t.Errorf("exit status = %d, want 1", code)
	}
	out := s.out.String()
	// "exited while starting" is said when the program is seen to end, as
	// opposed to "did not become ready" at the readiness deadline.
	for _, want := range []string{"api exited while starting", "LEADBRIDGE_ADDR", "address already in use"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}
