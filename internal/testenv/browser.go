package testenv

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Chromium starts Debian's headless chromium with a fresh profile and
// returns a context for its first tab; more tabs come from
// chromedp.NewContext on it. Everything ends, Chromium included, when the
// test does or after within. Chromium missing is a failure, never a skip:
// pages are only tested here. extra adds flags to the project's own, such
// as a certificate to trust.
func Chromium(t testing.TB, within time.Duration, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium not found: run 'make deps-test' (apt-get install chromium)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), within)
	t.Cleanup(cancel)
	// Exactly these flags: as root Chromium needs --no-sandbox, and without
	// the background-networking ones it dials out to Google services, which
	// a closed network refuses.
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	}
	actx, acancel := chromedp.NewExecAllocator(ctx, append(opts, extra...)...)
	t.Cleanup(acancel) // waits for Chromium to exit, before the profile is removed
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	if _, err := chromedp.Run(bctx, chromedp.EmulateViewport(900, 1200)); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	return bctx
}
