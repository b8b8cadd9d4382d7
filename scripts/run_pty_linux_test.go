package scripts

import (
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/leadbridge/leadbridge/internal/testenv"
)

// TestMakeRunStopsOnCtrlC presses Ctrl-C on `make run` in a terminal, as a
// user does: the terminal signals its whole foreground process group, make
// included, and make must still end with status 0 and no error.
func TestMakeRunStopsOnCtrlC(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatal("make not found: install it (Debian/Ubuntu: apt-get install make)")
	}
	// Nothing answers on this Redis address, so run.sh starts its own.
	redisAddr := testenv.FreeAddr(t)
	env := runEnv(t, map[string]string{"LEADBRIDGE_REDIS_URL": "redis://" + redisAddr + "/0"})

	term, tty := openPTY(t)
	out := &testenv.Buffer{}
	copied := make(chan struct{})
	go func() { io.Copy(out, term); close(copied) }() // ends with EIO once no process holds the terminal

	cmd := exec.Command("make", "run")
	cmd.Dir = repoRoot(t)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	// A session of its own with the terminal as its controlling terminal:
	// make leads the terminal's foreground process group, as in a shell.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start make run: %v", err)
	}
	tty.Close()
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		stopGroup(cmd.Process.Pid, done)
		term.Close()
		if t.Failed() {
			t.Logf("terminal:\n%s", out)
		}
	})
	exited := func() bool {
		select {
		case <-done:
			return true
		default:
			return false
		}
	}

	waitOutput(t, out.String, exited, "Ctrl-C stops it.")
	if want := redisAddr + ", DB 0 (started by make run"; !strings.Contains(out.String(), want) {
		t.Errorf("banner lacks %q", want)
	}
	if _, err := term.Write([]byte{3}); err != nil { // Ctrl-C
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("make run still running a minute after Ctrl-C")
	}
	// The terminal reads end once no process holds it: nothing that make run
	// started is left running.
	select {
	case <-copied:
	case <-time.After(time.Minute):
		t.Error("a process started by make run still holds the terminal a minute after make ended")
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("make run exit status after Ctrl-C = %d (%s), want 0", code, cmd.ProcessState)
	}
	after := out.String()[strings.Index(out.String(), "Ctrl-C stops it."):]
	for _, bad := range []string{"make: ***", "Error", "Interrupt", "unexpectedly"} {
		if strings.Contains(after, bad) {
			t.Errorf("after Ctrl-C the terminal shows %q, want a quiet stop", bad)
		}
	}
	// Stopped means stopped: the Redis it started and the API are gone.
	for _, addr := range []string{redisAddr, envValue(env, "LEADBRIDGE_ADDR")} {
		if !refused(addr) {
			t.Errorf("%s still accepts connections after make run ended", addr)
		}
	}
}

// openPTY returns a new pseudo-terminal: the side a terminal emulator holds
// and the side the programs get as their terminal.
func openPTY(t *testing.T) (term, tty *os.File) {
	t.Helper()
	term, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open /dev/ptmx: %v", err)
	}
	fd := int(term.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	tty, err = os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pty: %v", err)
	}
	return term, tty
}

// refused reports whether nothing listens on addr any more.
func refused(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err == nil {
		c.Close()
		return false
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}
