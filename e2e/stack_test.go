// Package e2e runs leadbridge as it runs in production — the api and worker
// binaries as processes, a real redis-server, the Dataverse emulator over
// TLS with real MSAL token acquisition — and checks what lands in the CRM.
package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/internal/testenv"
)

const apiToken = "e2e-test-token-0123456789"

// stack is one running leadbridge.
type stack struct {
	t       testing.TB
	Redis   *testenv.Redis // nil when options.redis points elsewhere
	Emu     *testenv.Emulator
	API     *testenv.Process
	APIURL  string
	Workers []*testenv.Process
	env     map[string]string
}

type options struct {
	config   string // YAML for LEADBRIDGE_CONFIG; "" = built-in demo form
	emulator string // PUT /_emulator/config patch applied before anything starts
	workers  int
	env      map[string]string
	redis    map[string]string // Redis settings (Sentinel, Cluster) instead of a private redis-server
}

func startStack(t testing.TB, o options) *stack {
	t.Helper()
	s := &stack{t: t, Emu: testenv.StartEmulator(t)}
	if o.emulator != "" {
		s.Emu.Configure(o.emulator)
	}
	s.env = map[string]string{
		"LEADBRIDGE_API_TOKEN":  apiToken,
		"LEADBRIDGE_LOG_LEVEL":  "info",
		"LEADBRIDGE_LOG_FORMAT": "text",
	}
	if o.redis == nil {
		s.Redis = testenv.StartRedis(t)
		o.redis = map[string]string{"LEADBRIDGE_REDIS_URL": s.Redis.URL}
	}
	for k, v := range o.redis {
		s.env[k] = v
	}
	for k, v := range s.Emu.WorkerEnv() {
		s.env[k] = v
	}
	if o.config != "" {
		s.env["LEADBRIDGE_CONFIG"] = testenv.WriteFile(t, "leadbridge.yaml", o.config)
	}
	if oneAtATime(t) {
		s.env["LEADBRIDGE_BATCH_SIZE"] = "1" // batching is the default
	}
	for k, v := range o.env {
		s.env[k] = v
	}
	addr := testenv.FreeAddr(t)
	apiEnv := copyEnv(s.env)
	apiEnv["LEADBRIDGE_ADDR"] = addr
	s.API = testenv.StartProcess(t, "api", apiEnv)
	s.APIURL = "http://" + addr
	s.API.WaitHTTP(t, s.APIURL+"/readyz")
	switch o.workers {
	case 0:
		o.workers = 1
	case -1:
		o.workers = 0
	}
	for i := 0; i < o.workers; i++ {
		s.StartWorker()
	}
	return s
}

// StartWorker starts one more worker process.
func (s *stack) StartWorker() *testenv.Process {
	s.t.Helper()
	return s.StartWorkerWith(nil)
}

// StartWorkerWith starts a worker with env on top of the stack's.
func (s *stack) StartWorkerWith(extra map[string]string) *testenv.Process {
	s.t.Helper()
	addr := testenv.FreeAddr(s.t)
	env := copyEnv(s.env)
	for k, v := range extra {
		env[k] = v
	}
	env["LEADBRIDGE_WORKER_ADDR"] = addr
	w := testenv.StartProcess(s.t, "worker", env)
	w.WaitHTTP(s.t, "http://"+addr+"/healthz")
	s.Workers = append(s.Workers, w)
	return w
}

func copyEnv(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// postJSON posts a JSON submission and returns the status and decoded body.
func (s *stack) postJSON(form string, fields map[string]any) (int, map[string]any) {
	s.t.Helper()
	b, _ := json.Marshal(fields)
	req, _ := http.NewRequest(http.MethodPost, s.APIURL+"/f/"+form, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	return s.do(req)
}

// postForm posts like a browser's plain HTML form and returns the response
// without following redirects.
func (s *stack) postForm(form string, v url.Values) *http.Response {
	s.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.APIURL+"/f/"+form, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/html")
	c := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		s.t.Fatalf("post form: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func (s *stack) do(req *http.Request) (int, map[string]any) {
	s.t.Helper()
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(body, &out)
	if out == nil {
		out = map[string]any{"_raw": string(body)}
	}
	return resp.StatusCode, out
}

// submission fetches the status record of id from the API.
func (s *stack) submission(id string) map[string]any {
	s.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.APIURL+"/v1/submissions/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+apiToken)
	code, body := s.do(req)
	if code != http.StatusOK {
		s.t.Fatalf("GET submission %s: %d %v", id, code, body)
	}
	return body
}

// waitStatus waits until submission id has the given status.
func (s *stack) waitStatus(id, want string, within time.Duration) map[string]any {
	s.t.Helper()
	var rec map[string]any
	testenv.Eventually(s.t, within, func() string {
		rec = s.submission(id)
		if rec["status"] == want {
			return ""
		}
		return fmt.Sprintf("submission %s: status %v, want %s (last error %v)", id, rec["status"], want, rec["last_error"])
	})
	return rec
}

// list returns every submission of a status from the API, following the
// pages it is served in.
func (s *stack) list(status string) []map[string]any {
	s.t.Helper()
	var out []map[string]any
	next := ""
	for {
		u := s.APIURL + "/v1/submissions?limit=500&status=" + status
		if next != "" {
			u += "&before=" + url.QueryEscape(next)
		}
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		req.Header.Set("Authorization", "Bearer "+apiToken)
		code, body := s.do(req)
		if code != http.StatusOK {
			s.t.Fatalf("list %s: %d %v", status, code, body)
		}
		for _, r := range body["submissions"].([]any) {
			out = append(out, r.(map[string]any))
		}
		next, _ = body["next"].(string)
		if next == "" {
			return out
		}
	}
}

// get fetches a path of the API and returns the body.
func (s *stack) get(path string) string {
	s.t.Helper()
	resp, err := http.Get(s.APIURL + path)
	if err != nil {
		s.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// leadsByEmail reads the leads with that email back from the emulator.
func (s *stack) leadsByEmail(email string) []map[string]any {
	q := "$select=leadid,firstname,lastname,emailaddress1,companyname,telephone1,jobtitle,description,subject,leadsourcecode,donotbulkemail,_parentcontactid_value,statecode&$filter=" +
		url.QueryEscape("emailaddress1 eq '"+strings.ReplaceAll(email, "'", "''")+"'")
	return s.Emu.Rows("leads", strings.ReplaceAll(q, "+", "%20"))
}
