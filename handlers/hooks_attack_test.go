package handlers_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/internal/hooktest"
	"github.com/leadbridge/leadbridge/internal/testenv"
	"github.com/leadbridge/leadbridge/submission"
	"github.com/leadbridge/leadbridge/webhook"
)

// Attacks on POST /hooks/{source}, and what each must leave behind: a
// refusal that says nothing, and nothing stored.

// wantNothingStored fails when any record or task exists.
func (v *hookEnv) wantNothingStored(t *testing.T) {
	t.Helper()
	if s, q := v.records(t), v.queued(t); s != 0 || q != 0 {
		t.Errorf("%d records and %d tasks stored, want none", s, q)
	}
}

// flatDelivery is a token-authenticated delivery (Zapier) of an arbitrary
// body: the credential is valid whatever the body holds.
func flatDelivery(v *hookEnv, body string) *hooktest.Delivery {
	k := hooktest.KindOf("zapier")
	d := k.New(base, ada("1"), k.Secrets[0], v.clock.Now())
	d.Body = []byte(body)
	return d
}

func TestHookOversizeBodies(t *testing.T) {
	v := newHookEnv(t)
	big := `{"email":"ada@example.com","last_name":"Lovelace","padding":"` + strings.Repeat("x", webhook.MaxBody) + `"}`
	t.Run("declared too large", func(t *testing.T) {
		rec := v.deliver(t, flatDelivery(v, big))
		if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(rec.Body.String(), "1024 KB") {
			t.Errorf("got %d %s, want 413 saying the limit", rec.Code, rec.Body.String())
		}
	})
	t.Run("chunked, no length", func(t *testing.T) {
		r := flatDelivery(v, big).Request()
		r.ContentLength = -1
		r.Body = io.NopCloser(io.MultiReader(strings.NewReader(big)))
		if rec := v.send(t, r); rec.Code != http.StatusRequestEntityTooLarge {
			t.Errorf("got %d %s, want 413", rec.Code, rec.Body.String())
		}
	})
	v.wantNothingStored(t)

	t.Run("at the limit: accepted, a bounded part kept", func(t *testing.T) {
		body := `{"email":"ada@example.com","last_name":"Lovelace","padding":"`
		body += strings.Repeat("é", (webhook.MaxBody-len(body)-2)/2) + `"}`
		r := v.oneLead(t, v.deliver(t, flatDelivery(v, body)), submission.StatusAccepted)
		p := r.Payload
		if !p.Truncated || p.Size != len(body) || len(p.Body) > 64<<10 || len(p.Body) < 64<<10-1 || !strings.HasPrefix(body, p.Body) {
			t.Errorf("payload: truncated %v, size %d (body %d), kept %d bytes; want the first 64 KB, cut at a character, and the size", p.Truncated, p.Size, len(body), len(p.Body))
		}
	})
}

// A body that stops coming is cut off by the server's ReadTimeout (slowloris);
// one that breaks off is refused. Neither stores anything.
func TestHookBodyThatStopsOrBreaksOff(t *testing.T) {
	v := newHookEnv(t)
	srv := httptest.NewUnstartedServer(v.e)
	srv.Config.ReadTimeout = 300 * time.Millisecond // cmd/api's is 30 s; the mechanism is the same
	srv.Start()
	defer srv.Close()
	k := hooktest.KindOf("zapier")
	head := func(length int) string {
		return "POST /hooks/zapier HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer " + k.Secrets[0] +
			fmt.Sprintf("\r\nContent-Length: %d\r\n\r\n", length)
	}
	t.Run("stops sending", func(t *testing.T) {
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, head(1000)+`{"email":"ada@exa`)
		c.SetReadDeadline(time.Now().Add(30 * time.Second)) // the test's own bound, not a timing assertion
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err == nil {
			defer resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				t.Errorf("a stalled body was answered %d", resp.StatusCode)
			}
		} // else the server closed the connection: refused too
	})
	t.Run("breaks off", func(t *testing.T) {
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, head(1000)+`{"email":"ada@exa`)
		c.Close()
	})
	// Both were refused as unreadable, and logged so.
	testenv.Eventually(t, 30*time.Second, func() string {
		if n := strings.Count(v.logs.String(), `"outcome":"unreadable"`); n < 2 {
			return fmt.Sprintf("%d deliveries logged as unreadable, want 2", n)
		}
		return ""
	})
	v.wantNothingStored(t)
}

// Authentic deliveries whose bodies are not what their kind sends: 400,
// nothing stored, no panic.
func TestHookMalformedBodiesAfterAValidSignature(t *testing.T) {
	v := newHookEnv(t)
	tests := []struct {
		name, source, contentType, body string
	}{
		{"JSON cut short", "typeform", "application/json", `{"event_id":"1","form_response":{"answers":[`},
		{"JSON with more after it", "svix", "application/json", `{"type":"x"} {"type":"y"}`},
		{"not JSON at all", "meta", "application/json", "<xml/>"},
		{"invalid UTF-8", "github", "application/json", "{\"email\":\"ada\xff@example.com\",\"last_name\":\"L\"}"},
		{"a lone surrogate escape", "github", "application/json", `{"email":"ada@example.com","last_name":"\ud800"}`},
		{"deeply nested JSON", "standard", "application/json", strings.Repeat("[", 20000) + strings.Repeat("]", 20000)},
		{"form with a broken escape", "mailchimp", "application/x-www-form-urlencoded", "type=subscribe&data[email]=%zz"},
		{"Unbounce data.json not JSON", "unbounce", "application/x-www-form-urlencoded", "page_id=1&data.json=%7Bnope"},
		{"empty body", "calendly", "application/json", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := hooktest.KindOf(tt.source)
			d := k.New(base, ada("1"), k.Secrets[0], v.clock.Now())
			d.Body = []byte(tt.body)
			d.Header.Set("Content-Type", tt.contentType)
			k.Resign(d, k.Secrets[0], v.clock.Now())
			if rec := v.deliver(t, d); rec.Code != http.StatusBadRequest {
				t.Errorf("got %d %s, want 400", rec.Code, rec.Body.String())
			}
		})
	}
	v.wantNothingStored(t)
}

// Floods of signature headers cost a bounded amount of work and are
// refused; a valid entry among many bogus ones is what rotation looks like,
// and is accepted.
func TestHookSignatureHeaderFloods(t *testing.T) {
	v := newHookEnv(t)
	k := hooktest.KindOf("standard")
	bogus := strings.Repeat("v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= ", 4000)
	t.Run("thousands of entries", func(t *testing.T) {
		d := k.New(base, ada("1"), k.Secrets[2], v.clock.Now())
		d.Header.Set("Webhook-Signature", bogus+d.Header.Get("Webhook-Signature"))
		if rec := v.deliver(t, d); rec.Code != http.StatusUnauthorized {
			t.Errorf("got %d, want 401", rec.Code)
		}
	})
	t.Run("thousands of header lines", func(t *testing.T) {
		d := k.New(base, ada("2"), k.Secrets[2], v.clock.Now())
		for i := 0; i < 2000; i++ {
			d.Header.Add("Webhook-Signature", "v1,AAAA")
		}
		if rec := v.deliver(t, d); rec.Code != http.StatusUnauthorized {
			t.Errorf("got %d, want 401", rec.Code)
		}
	})
	t.Run("a huge malformed value", func(t *testing.T) {
		tf := hooktest.KindOf("typeform")
		d := tf.New(base, ada("3"), tf.Secrets[0], v.clock.Now())
		d.Header.Set("Typeform-Signature", "sha256="+strings.Repeat("A", 200<<10))
		if rec := v.deliver(t, d); rec.Code != http.StatusUnauthorized {
			t.Errorf("got %d, want 401", rec.Code)
		}
	})
	v.wantNothingStored(t)
	t.Run("the valid entry after thousands", func(t *testing.T) {
		d := k.New(base, ada("4"), k.Secrets[0], v.clock.Now())
		d.Header.Set("Webhook-Signature", bogus+d.Header.Get("Webhook-Signature"))
		v.oneLead(t, v.deliver(t, d), submission.StatusAccepted)
	})
}

// A captured delivery replayed with a fresh timestamp but its old signature
// is refused; within the window, as it was, it is a repeat.
func TestHookReplays(t *testing.T) {
	v := newHookEnv(t)
	for _, k := range hooktest.Kinds() {
		if !k.Timestamped {
			continue
		}
		t.Run(k.Source, func(t *testing.T) {
			d := k.New(base, ada("9"), k.Secrets[0], v.clock.Now())
			v.oneLead(t, v.deliver(t, d), submission.StatusAccepted)
			v.clock.Advance(2 * time.Minute) // inside every kind's window (Calendly's is 3 minutes)
			v.oneLead(t, v.deliver(t, d), "duplicate")

			v.clock.Advance(4 * time.Minute)
			if rec := v.deliver(t, d); rec.Code != http.StatusUnauthorized {
				t.Errorf("replayed after the window: got %d, want 401", rec.Code)
			}
			forged := k.New(base, ada("9"), k.Secrets[0], v.clock.Now()) // today's timestamp headers…
			for name, vals := range d.Header {
				if strings.Contains(strings.ToLower(name), "signature") {
					forged.Header[name] = vals // …with the captured signature
				}
			}
			if rec := v.deliver(t, forged); rec.Code != http.StatusUnauthorized {
				t.Errorf("captured signature with a new timestamp: got %d, want 401", rec.Code)
			}
		})
	}
}

// One source floods: the same delivery many times at once makes one
// submission; many different leads at once are each kept. (Per-source rate
// limits and fair delivery queues come with issue 8, at limitHook.)
func TestHookFloodFromOneSource(t *testing.T) {
	v := newHookEnv(t)
	k := hooktest.KindOf("svix")
	same := k.New(base, ada("42"), k.Secrets[0], v.clock.Now())
	var wg sync.WaitGroup
	codes := make(chan int, 96)
	for i := 0; i < 48; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			codes <- v.deliver(t, same).Code
		}()
		go func(i int) {
			defer wg.Done()
			l := ada(fmt.Sprint(100 + i))
			l.Email = fmt.Sprintf("person%d@example.com", i)
			codes <- v.deliver(t, k.New(base, l, k.Secrets[1], v.clock.Now())).Code
		}(i)
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != http.StatusOK {
			t.Errorf("a delivery of the flood got %d, want 200", c)
		}
	}
	if s, q := v.records(t), v.queued(t); s != 49 || q != 49 {
		t.Errorf("records %d, tasks %d; want 49 and 49 (48 people, and one for 48 copies)", s, q)
	}
}

// More leads in one delivery than any platform batches: 413, nothing kept.
func TestHookTooManyLeadsInOneDelivery(t *testing.T) {
	v := newHookEnv(t)
	one := `{"email":"ada@example.com","last_name":"Lovelace"}`
	if rec := v.deliver(t, flatDelivery(v, "["+strings.TrimSuffix(strings.Repeat(one+",", 501), ",")+"]")); rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("501 leads: got %d %s, want 413", rec.Code, rec.Body.String())
	}
	v.wantNothingStored(t)
	rec := v.deliver(t, flatDelivery(v, "["+one+","+strings.Replace(one, "ada@", "bo@", 1)+"]"))
	if a := answerOf(t, rec); rec.Code != http.StatusOK || len(a.Leads) != 2 {
		t.Errorf("2 leads: got %d %s, want 200 with 2", rec.Code, rec.Body.String())
	}
}

// Redis hangs, or dies, in the middle of a delivery: 503 with Retry-After,
// never a 2xx; the platform's retry then makes exactly one submission, and
// queues it.
func TestHookWhenRedisHangsOrDies(t *testing.T) {
	v := newHookEnvWith(t, hookOptions{storeTimeout: time.Second})
	k := hooktest.KindOf("typeform")
	v.oneLead(t, v.deliver(t, k.New(base, ada("1"), k.Secrets[0], v.clock.Now())), submission.StatusAccepted) // warm

	t.Run("hangs", func(t *testing.T) {
		d := k.New(base, ada("2"), k.Secrets[0], v.clock.Now())
		v.redis.Pause()
		rec := v.deliver(t, d)
		v.redis.Resume()
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
			t.Fatalf("got %d %s, want 503 with Retry-After", rec.Code, rec.Body.String())
		}
		// Redis, resumed, runs the write it was sent after the API gave up.
		testenv.Eventually(t, 10*time.Second, func() string {
			if n := v.records(t); n != 2 {
				return fmt.Sprintf("records %d, want 2", n)
			}
			return ""
		})
		v.oneLead(t, v.deliver(t, d), "duplicate")
		if s, q := v.records(t), v.queued(t); s != 2 || q != 2 {
			t.Errorf("after the retry: records %d, tasks %d; want 2 and 2 (the late write queued by the retry)", s, q)
		}
	})
	t.Run("dies", func(t *testing.T) {
		d := k.New(base, ada("3"), k.Secrets[0], v.clock.Now())
		v.redis.Kill()
		rec := v.deliver(t, d)
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
			t.Errorf("got %d %s, want 503 with Retry-After", rec.Code, rec.Body.String())
		}
		v.redis.Restart()
		v.oneLead(t, v.deliver(t, d), submission.StatusAccepted)
		v.oneLead(t, v.deliver(t, d), "duplicate")
		if s, q := v.records(t), v.queued(t); s != 3 || q != 3 {
			t.Errorf("records %d, tasks %d; want 3 and 3", s, q)
		}
	})
}

// Nothing personal and no secret reaches the API's log or its metrics, for
// any kind and any outcome; the reason of a refusal is in the log.
func TestHookLogsAndMetricsHoldNoPersonalDataOrSecrets(t *testing.T) {
	v := newHookEnv(t)
	person := hooktest.Lead{First: "Zebedee", Last: "Quixotic", Email: "zebedee.private@example.org", Phone: "+447700900123", Company: "Secretive Widgets"}
	for i, k := range hooktest.Kinds() {
		l := person
		l.ID = fmt.Sprint(9000 + i)
		v.deliver(t, k.New(base, l, k.Secrets[0], v.clock.Now())) // accepted
		v.deliver(t, k.New(base, l, k.Secrets[2], v.clock.Now())) // 401
		l.ID, l.Email = fmt.Sprint(9500+i), "zebedee.private@"    // invalid
		v.deliver(t, k.New(base, l, k.Secrets[0], v.clock.Now())) // 422 (or a thin lead)
		v.send(t, httptest.NewRequest(http.MethodGet, base+"/hooks/meta?hub.mode=subscribe&hub.challenge=1&hub.verify_token="+hooktest.MetaVerifyToken, nil))
	}
	m := httptest.NewRecorder()
	v.reg.ServeHTTP(m, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	logs := v.logs.String()
	for where, text := range map[string]string{"log": logs, "metrics": m.Body.String()} {
		secrets := []string{person.First, person.Last, "zebedee.private", person.Phone, "7700900123", person.Company, hooktest.MetaVerifyToken, hooktest.MetaPageToken, hooktest.HubSpotToken}
		for _, k := range hooktest.Kinds() {
			secrets = append(secrets, k.Secrets[:]...)
		}
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("the %s holds %q", where, s)
			}
		}
	}
	if !strings.Contains(logs, `"reason":"webhook: no secret matched`) {
		t.Errorf("the log does not say why deliveries were refused:\n%s", logs)
	}
	if !strings.Contains(m.Body.String(), `leadbridge_webhooks_total{outcome="unauthorized",source="typeform"} 1`) {
		t.Errorf("metrics lack the refusals by source:\n%s", m.Body.String())
	}
}

// Google sends its key inside the body; the body kept for the admin console
// does not keep the key.
func TestHookPayloadKeepsNoSecret(t *testing.T) {
	v := newHookEnv(t)
	k := hooktest.KindOf("google")
	r := v.oneLead(t, v.deliver(t, k.New(base, ada("1"), k.Secrets[0], v.clock.Now())), submission.StatusAccepted)
	if strings.Contains(r.Payload.Body, k.Secrets[0]) || !strings.Contains(r.Payload.Body, `"google_key":"[redacted]"`) {
		t.Errorf("kept payload %s, want google_key redacted", r.Payload.Body)
	}
	if r.Fields["last_name"] != "Ada Lovelace" {
		t.Errorf("fields %v", r.Fields)
	}
}
