package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"text/template"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"

	"github.com/leadbridge/leadbridge/internal/testenv"
)

// monitoringConfig has one form and one webhook source (a bearer token,
// the simplest scheme), so that one post of each fills every labelled
// family the programs export.
const monitoringConfig = `
forms:
  contact:
    allowed_origins: ["*"]
    match: [email]
    fields:
      email: {column: emailaddress1, rules: "required,email"}
      first_name: {column: firstname}
      last_name: {column: lastname, rules: required}
      phone: {column: telephone1}
      company: {column: companyname}
sources:
  zap:
    kind: token
    secret: env:ZAP_TOKEN
    form: contact
`

const zapToken = "zap-token-0123456789abcdef"

// monitored is a stack whose worker's metrics address is known.
type monitored struct {
	*stack
	workerURL string // http://host:port of the worker's health and metrics
	worker    *testenv.Process
}

func startMonitored(t *testing.T, extra map[string]string) *monitored {
	t.Helper()
	env := map[string]string{"ZAP_TOKEN": zapToken}
	for k, v := range extra {
		env[k] = v
	}
	s := startStack(t, options{config: monitoringConfig, workers: -1, env: env})
	addr := testenv.FreeAddr(t)
	wenv := copyEnv(s.env)
	wenv["LEADBRIDGE_WORKER_ADDR"] = addr
	w := testenv.StartProcess(t, "worker", wenv)
	w.WaitHTTP(t, "http://"+addr+"/healthz")
	return &monitored{stack: s, workerURL: "http://" + addr, worker: w}
}

// postHook posts one lead to the zap source and returns its submission id.
func (m *monitored) postHook(lead map[string]string) string {
	m.t.Helper()
	b, _ := json.Marshal(lead)
	req, _ := http.NewRequest(http.MethodPost, m.APIURL+"/hooks/zap", strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+zapToken)
	code, body := m.do(req)
	leads, _ := body["leads"].([]any)
	if code != http.StatusOK || len(leads) != 1 {
		m.t.Fatalf("POST /hooks/zap: %d %v", code, body)
	}
	id, _ := leads[0].(map[string]any)["id"].(string)
	return id
}

// scrape reads a /metrics page into its families.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	return fams
}

// exported is every series name the scrapes hold (a histogram's _bucket,
// _sum and _count), with the label names each carries.
func exported(scrapes ...map[string]*dto.MetricFamily) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	add := func(name string, m *dto.Metric, extra ...string) {
		if out[name] == nil {
			out[name] = map[string]bool{}
		}
		for _, l := range m.GetLabel() {
			out[name][l.GetName()] = true
		}
		for _, l := range extra {
			out[name][l] = true
		}
	}
	for _, fams := range scrapes {
		for name, f := range fams {
			for _, m := range f.GetMetric() {
				switch f.GetType() {
				case dto.MetricType_HISTOGRAM:
					add(name+"_bucket", m, "le")
					add(name+"_sum", m)
					add(name+"_count", m)
				case dto.MetricType_SUMMARY:
					add(name, m, "quantile")
					add(name+"_sum", m)
					add(name+"_count", m)
				default:
					add(name, m)
				}
			}
		}
	}
	return out
}

// query is one PromQL expression of the docs, and where it is.
type query struct{ where, expr string }

// templateQuery finds the queries alert templates run: {{ query "…" }}.
var templateQuery = regexp.MustCompile(`query\s+"((?:[^"\\]|\\.)*)"`)

// rulesQueries reads docs/prometheus-rules.yml strictly: every rule an
// alert with an expression, labels and annotations whose templates parse.
func rulesQueries(t *testing.T) []query {
	t.Helper()
	b, err := os.ReadFile("../docs/prometheus-rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				For         string            `yaml:"for"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("prometheus-rules.yml: %v", err)
	}
	var out []query
	for _, g := range doc.Groups {
		for _, r := range g.Rules {
			where := "prometheus-rules.yml " + r.Alert
			if r.Alert == "" || r.Expr == "" || r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("%s (group %s): an alert needs a name, an expr, a severity and a summary", where, g.Name)
			}
			if r.For != "" {
				if _, err := model.ParseDuration(r.For); err != nil {
					t.Errorf("%s: for: %v", where, err)
				}
			}
			out = append(out, query{where, r.Expr})
			for k, text := range r.Annotations {
				// Prometheus's template functions, enough to parse.
				funcs := template.FuncMap{"humanize": fmt.Sprint, "humanizeDuration": fmt.Sprint, "query": fmt.Sprint, "first": fmt.Sprint, "value": fmt.Sprint}
				// Prometheus defines these before expanding a template.
				defs := "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$value := .Value}}"
				if _, err := template.New(k).Funcs(funcs).Parse(defs + text); err != nil {
					t.Errorf("%s: annotation %s: %v", where, k, err)
				}
				for _, m := range templateQuery.FindAllStringSubmatch(text, -1) {
					out = append(out, query{where + " annotation " + k, strings.ReplaceAll(m[1], `\"`, `"`)})
				}
			}
		}
	}
	return out
}

// dashboardQueries reads every target of docs/grafana-dashboard.json,
// panels inside rows included.
func dashboardQueries(t *testing.T) []query {
	t.Helper()
	b, err := os.ReadFile("../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		Title   string  `json:"title"`
		Panels  []panel `json:"panels"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	}
	var d struct {
		Title  string  `json:"title"`
		UID    string  `json:"uid"`
		Panels []panel `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	if d.Title == "" || d.UID == "" {
		t.Errorf("grafana-dashboard.json: no title or uid")
	}
	var out []query
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			for _, tg := range p.Targets {
				out = append(out, query{"grafana-dashboard.json panel " + p.Title, tg.Expr})
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

// prometheusSeries are series Prometheus makes itself, not leadbridge.
var prometheusSeries = []string{"up", "scrape_duration_seconds", "scrape_samples_scraped"}

// targetLabels are the labels Prometheus adds to every scraped series.
var targetLabels = []string{"job", "instance"}

// TestDashboardsAndAlertsUseExportedSeries parses every PromQL expression
// of docs/prometheus-rules.yml and docs/grafana-dashboard.json and checks
// that each series it selects, with each label it matches on, is on the
// /metrics of the api or the worker, running as processes after a form
// post, a webhook lead and a delivery.
func TestDashboardsAndAlertsUseExportedSeries(t *testing.T) {
	queries := append(rulesQueries(t), dashboardQueries(t)...)
	if len(queries) < 20 {
		t.Fatalf("only %d queries found in docs/: the reading is broken", len(queries))
	}

	m := startMonitored(t, nil)
	code, body := m.postJSON("contact", map[string]any{"email": "mon@example.com", "last_name": "Mon"})
	if code != http.StatusAccepted {
		t.Fatalf("POST /f/contact: %d %v", code, body)
	}
	m.waitStatus(body["id"].(string), "delivered", 60*time.Second)
	m.waitStatus(m.postHook(map[string]string{"email": "hook@example.com", "last_name": "Hook"}), "delivered", 60*time.Second)

	series := exported(scrape(t, m.APIURL+"/metrics"), scrape(t, m.workerURL+"/metrics"))
	p := parser.NewParser(parser.Options{})
	used := map[string]bool{}
	for _, q := range queries {
		expr, err := p.ParseExpr(q.expr)
		if err != nil {
			t.Errorf("%s: %q does not parse: %v", q.where, q.expr, err)
			continue
		}
		parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
			vs, ok := n.(*parser.VectorSelector)
			if !ok {
				return nil
			}
			name := vs.Name
			for _, lm := range vs.LabelMatchers {
				if lm.Name == model.MetricNameLabel {
					name = lm.Value
				}
			}
			if slices.Contains(prometheusSeries, name) {
				return nil
			}
			labels, ok := series[name]
			if !ok {
				t.Errorf("%s: %q uses %s, which neither program exports", q.where, q.expr, name)
				return nil
			}
			used[name] = true
			for _, lm := range vs.LabelMatchers {
				if lm.Name != model.MetricNameLabel && !labels[lm.Name] && !slices.Contains(targetLabels, lm.Name) {
					t.Errorf("%s: %q matches label %s, which %s does not have", q.where, q.expr, lm.Name, name)
				}
			}
			return nil
		})
	}
	// The alerts the operations team asked for are there.
	for _, want := range []string{"leadbridge_delivery_attempts_total", "leadbridge_oldest_waiting_seconds", "leadbridge_waiting_submissions",
		"leadbridge_dataverse_throttled_until_timestamp_seconds", "leadbridge_dataverse_last_auth_failure_timestamp_seconds", "leadbridge_redis_up"} {
		if !used[want] {
			t.Errorf("no rule or panel uses %s", want)
		}
	}
}

// TestMonitoringGaugesFollowRedis: the backlog and Redis gauges of the
// worker say what is true — a waiting submission's age while the worker's
// delivery is paused, and Redis down.
func TestMonitoringGaugesFollowRedis(t *testing.T) {
	m := startMonitored(t, nil)
	gauge := func(name string) (float64, bool) {
		f, ok := scrape(t, m.workerURL+"/metrics")[name]
		if !ok || len(f.GetMetric()) == 0 {
			return 0, false
		}
		return f.GetMetric()[0].GetGauge().GetValue(), true
	}
	if v, ok := gauge("leadbridge_redis_up"); !ok || v != 1 {
		t.Errorf("leadbridge_redis_up = %v (present %v), want 1", v, ok)
	}
	if v, ok := gauge("leadbridge_waiting_submissions"); !ok || v != 0 {
		t.Errorf("leadbridge_waiting_submissions = %v (present %v), want 0", v, ok)
	}
	m.worker.Stop()
	code, body := m.postJSON("contact", map[string]any{"email": "wait@example.com", "last_name": "Wait"})
	if code != http.StatusAccepted {
		t.Fatalf("POST: %d %v", code, body)
	}
	// A second worker, to read the gauges while nothing delivers: its
	// delivery is paused by the admins' flag, which it reads first.
	m.Redis.Client().Set(t.Context(), "lb:delivery:paused", `{"by":"test","at":"2026-01-01T00:00:00Z"}`, 0)
	addr := testenv.FreeAddr(t)
	wenv := copyEnv(m.env)
	wenv["LEADBRIDGE_WORKER_ADDR"] = addr
	w := testenv.StartProcess(t, "worker", wenv)
	w.WaitHTTP(t, "http://"+addr+"/healthz")
	m.workerURL = "http://" + addr
	testenv.Eventually(t, 30*time.Second, func() string {
		n, _ := gauge("leadbridge_waiting_submissions")
		age, _ := gauge("leadbridge_oldest_waiting_seconds")
		if n != 1 || age <= 0 {
			return fmt.Sprintf("waiting %v, oldest %v s; want 1 and > 0", n, age)
		}
		return ""
	})
	m.Redis.Pause() // SIGSTOP: Redis hangs
	defer m.Redis.Resume()
	testenv.Eventually(t, 30*time.Second, func() string {
		fams := scrape(t, m.workerURL+"/metrics")
		up := fams["leadbridge_redis_up"]
		if up == nil || up.GetMetric()[0].GetGauge().GetValue() != 0 {
			return "leadbridge_redis_up is not 0 while Redis hangs"
		}
		if _, ok := fams["leadbridge_waiting_submissions"]; ok {
			return "leadbridge_waiting_submissions is still reported while Redis hangs"
		}
		return ""
	})
}
