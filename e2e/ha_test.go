package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/internal/testenv"
)

// TestSentinelFailoverLosesNoAcceptedSubmission: clients post without
// pause while the Redis primary is killed with SIGKILL and the sentinels
// promote its replica. A post that is not answered 202 (a 503, or no answer
// at all) is sent again with the same Idempotency-Key until it is. Every
// submission answered 202 is delivered, as exactly one lead; and no lead
// exists that was not answered 202.
func TestSentinelFailoverLosesNoAcceptedSubmission(t *testing.T) {
	t.Parallel()
	sen := testenv.StartSentinel(t)
	redisEnv := sen.Env()
	redisEnv["LEADBRIDGE_REDIS_WAIT_REPLICAS"] = "1"
	redisEnv["LEADBRIDGE_REDIS_WAIT_TIMEOUT"] = "500ms"
	s := startStack(t, options{config: noContactForm, redis: redisEnv,
		env: map[string]string{"LEADBRIDGE_LOG_LEVEL": "warn"}})

	l := s.startLoad("quick", 3)
	l.waitAccepted(150)
	old := sen.KillPrimary()
	before := l.accepted()
	sen.WaitFailover(old)
	// With WAIT 1, intake needs a replica: the old primary, back from
	// its crash, is made one by the sentinels. (Until then, 503.)
	sen.Rejoin(old)
	l.waitAccepted(before + 150)
	l.stop()
	t.Logf("%d submissions answered 202 (%d before the kill); %d answers were 503, %d posts got no answer",
		l.accepted(), before, l.unavailable, l.noAnswer)

	s.waitAllDelivered(l.ids(), haRecovery)
	s.checkOneLeadPerAcceptedSubmission(l)
}

// haRecovery bounds the wait for every accepted submission after a
// primary's crash. A worker's writes the crash lost (a task's completion,
// say) leave its task active on the new primary until asynq's lease (30 s)
// runs out and its recoverer (every minute) hands it back, and a loaded
// machine adds to that: a full make test once saw 4 of 427 still waiting
// at two minutes.
const haRecovery = 4 * time.Minute

// TestClusterDeliversWhileAPrimaryRestarts: submissions are delivered end
// to end on a three-primary Redis Cluster, while the primary that holds
// the submission records is killed and started again (its AOF keeps what
// it acknowledged). Posts meanwhile may get 503 and are sent again with
// the same key; every one answered 202 is delivered exactly once.
func TestClusterDeliversWhileAPrimaryRestarts(t *testing.T) {
	t.Parallel()
	cl := testenv.StartCluster(t)
	s := startStack(t, options{config: noContactForm, redis: cl.Env(),
		env: map[string]string{"LEADBRIDGE_LOG_LEVEL": "warn"}})

	l := s.startLoad("quick", 3)
	l.waitAccepted(150)
	node := cl.NodeFor("{lb}:rec:")
	node.Kill()
	testenv.Eventually(t, 30*time.Second, func() string {
		if l.failures() == 0 {
			return "no post has failed yet with the records' primary down"
		}
		return ""
	})
	node.Start()
	cl.WaitOK()
	l.waitAccepted(l.accepted() + 150)
	l.stop()
	t.Logf("%d submissions answered 202; %d answers were 503, %d posts got no answer", l.accepted(), l.unavailable, l.noAnswer)

	s.waitAllDelivered(l.ids(), haRecovery)
	s.checkOneLeadPerAcceptedSubmission(l)
}

// load is clients posting submissions to one form, each for a person of
// its own, one after the other, until stopped.
type load struct {
	s    *stack
	form string
	quit chan struct{}
	wg   sync.WaitGroup

	mu          sync.Mutex
	ok          map[string]string // email → id answered with 202
	unavailable int               // 503 answers
	noAnswer    int               // posts that got no HTTP answer
	errs        []string
}

// startLoad starts clients that post until stop. A post not answered 202
// is sent again, with the same Idempotency-Key, until it is: as a client
// told "503, send it again" does.
func (s *stack) startLoad(form string, clients int) *load {
	l := &load{s: s, form: form, quit: make(chan struct{}), ok: map[string]string{}}
	for c := 0; c < clients; c++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			hc := &http.Client{Timeout: 10 * time.Second}
			for n := 0; ; n++ {
				select {
				case <-l.quit:
					return
				default:
				}
				l.send(hc, fmt.Sprintf("c%d-%d@example.com", c, n))
			}
		}()
	}
	s.t.Cleanup(l.stop)
	return l
}

// send posts one submission until it is answered 202, for at most a
// minute; the client keeps going until then even when told to stop, so
// that every submission ends answered.
func (l *load) send(hc *http.Client, email string) {
	body, _ := json.Marshal(map[string]string{"last_name": "Load", "email": email})
	deadline := time.Now().Add(time.Minute)
	for {
		req, _ := http.NewRequest(http.MethodPost, l.s.APIURL+"/f/"+l.form, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "key-"+email)
		resp, err := hc.Do(req)
		var out map[string]string
		code := 0
		if err == nil {
			code = resp.StatusCode
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			_ = json.Unmarshal(data, &out)
		}
		l.mu.Lock()
		switch {
		case err != nil:
			l.noAnswer++
		case code == http.StatusAccepted && out["id"] != "":
			l.ok[email] = out["id"]
			l.mu.Unlock()
			return
		case code == http.StatusServiceUnavailable:
			l.unavailable++
		default:
			l.errs = append(l.errs, fmt.Sprintf("%s: got %d %v, want 202 or 503", email, code, out))
			l.mu.Unlock()
			return
		}
		if time.Now().After(deadline) {
			l.errs = append(l.errs, fmt.Sprintf("%s: not accepted within a minute", email))
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()
		// A client's pause before it sends again (Retry-After is 5 s; a
		// test client is less patient).
		time.Sleep(100 * time.Millisecond)
	}
}

// stop stops the clients once each has its current submission answered,
// and fails the test on any answer other than 202 or 503.
func (l *load) stop() {
	select {
	case <-l.quit:
		return
	default:
	}
	close(l.quit)
	l.wg.Wait()
	for _, e := range l.errs {
		l.s.t.Error(e)
	}
}

func (l *load) accepted() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.ok)
}

func (l *load) failures() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.unavailable + l.noAnswer
}

func (l *load) ids() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, 0, len(l.ok))
	for _, id := range l.ok {
		out = append(out, id)
	}
	return out
}

// waitAccepted waits until n submissions in all were answered 202.
func (l *load) waitAccepted(n int) {
	l.s.t.Helper()
	testenv.Eventually(l.s.t, time.Minute, func() string {
		if got := l.accepted(); got < n {
			return fmt.Sprintf("%d submissions accepted, waiting for %d", got, n)
		}
		return ""
	})
}

// checkOneLeadPerAcceptedSubmission: one lead for every submission
// answered 202, and no other lead.
func (s *stack) checkOneLeadPerAcceptedSubmission(l *load) {
	s.t.Helper()
	perEmail := map[string]int{}
	for _, r := range s.Emu.Rows("leads", "$select=leadid,emailaddress1") {
		perEmail[r["emailaddress1"].(string)]++
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for email := range l.ok {
		if n := perEmail[email]; n != 1 {
			s.t.Errorf("%s (answered 202 as %s): %d leads, want 1", email, l.ok[email], n)
		}
	}
	for email, n := range perEmail {
		if _, ok := l.ok[email]; !ok {
			s.t.Errorf("%s: %d leads, but it was never answered 202", email, n)
		}
	}
}
