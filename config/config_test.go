package config_test

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/config"
	"github.com/leadbridge/leadbridge/forms"
	"github.com/leadbridge/leadbridge/internal/testenv"
)

// env turns a map into a Getenv, as the programs' os.Getenv would be.
func env(m map[string]string) config.Getenv {
	return func(k string) string { return m[k] }
}

// with returns base plus the pairs, without changing base.
func with(base map[string]string, kv ...string) map[string]string {
	out := make(map[string]string, len(base)+len(kv)/2)
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func TestLoadAPIDefaults(t *testing.T) {
	c, err := config.LoadAPI(env(nil))
	if err != nil {
		t.Fatalf("LoadAPI with an empty environment: %v", err)
	}
	if c.Addr != ":8080" {
		t.Errorf("Addr = %q, want :8080", c.Addr)
	}
	if c.MaxBodyBytes != 65536 {
		t.Errorf("MaxBodyBytes = %d, want 65536", c.MaxBodyBytes)
	}
	if c.Redis.URL != "redis://127.0.0.1:6379/0" {
		t.Errorf("Redis.URL = %q, want redis://127.0.0.1:6379/0", c.Redis.URL)
	}
	if c.APIToken != "" || len(c.TrustedProxies) != 0 {
		t.Errorf("APIToken = %q, TrustedProxies = %v; want both unset", c.APIToken, c.TrustedProxies)
	}
	if got := c.Forms.IDs(); !reflect.DeepEqual(got, []string{"demo"}) {
		t.Errorf("Forms = %v, want the built-in [demo]", got)
	}
}

func TestLoadAPISettings(t *testing.T) {
	c, err := config.LoadAPI(env(map[string]string{
		"LEADBRIDGE_ADDR":            "127.0.0.1:9000",
		"LEADBRIDGE_API_TOKEN":       "0123456789abcdef",
		"LEADBRIDGE_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.0/24",
		"LEADBRIDGE_MAX_BODY_BYTES":  "2048",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9000" || c.APIToken != "0123456789abcdef" || c.MaxBodyBytes != 2048 {
		t.Errorf("got Addr %q APIToken %q MaxBodyBytes %d", c.Addr, c.APIToken, c.MaxBodyBytes)
	}
	var nets []string
	for _, n := range c.TrustedProxies {
		nets = append(nets, n.String())
	}
	if want := []string{"10.0.0.0/8", "192.168.1.0/24"}; !reflect.DeepEqual(nets, want) {
		t.Errorf("TrustedProxies = %v, want %v", nets, want)
	}
}

func TestLoadWorkerDefaults(t *testing.T) {
	c, err := config.LoadWorker(env(nil))
	if err != nil {
		t.Fatalf("LoadWorker with an empty environment: %v", err)
	}
	if c.Addr != ":9090" || c.Concurrency != 10 {
		t.Errorf("Addr %q Concurrency %d, want :9090 and 10", c.Addr, c.Concurrency)
	}
	if c.RequestTimeout != 30*time.Second || c.RetryHorizon != 72*time.Hour || c.DeliveredRetention != 30*24*time.Hour {
		t.Errorf("RequestTimeout %s RetryHorizon %s DeliveredRetention %s, want 30s, 72h, 720h", c.RequestTimeout, c.RetryHorizon, c.DeliveredRetention)
	}
	want := config.Dataverse{
		URL:           "https://127.0.0.1:8443",
		TenantID:      config.EmulatorTenantID,
		ClientID:      config.EmulatorClientID,
		ClientSecret:  config.EmulatorClientSecret,
		AuthorityHost: "https://127.0.0.1:8443",
		CAFile:        filepath.Join(".run", "emulator", "ca.pem"),
		Emulated:      true,
	}
	if c.Dataverse != want {
		t.Errorf("Dataverse = %+v, want the emulator defaults %+v", c.Dataverse, want)
	}
	if c.StrictConfig {
		t.Error("StrictConfig by default, want off (warn)")
	}
}

func TestLoadWorkerStrictConfig(t *testing.T) {
	for v, want := range map[string]bool{"true": true, "1": true, "TRUE": true, "yes": true, "false": false, "0": false, "": false} {
		c, err := config.LoadWorker(env(map[string]string{"LEADBRIDGE_STRICT_CONFIG": v}))
		if err != nil || c.StrictConfig != want {
			t.Errorf("LEADBRIDGE_STRICT_CONFIG=%q: got %v, %v; want %v", v, c.StrictConfig, err, want)
		}
	}
}

func TestLoadWorkerEmulatorSettings(t *testing.T) {
	c, err := config.LoadWorker(env(map[string]string{
		"EMULATOR_ADDR":          "127.0.0.1:9443",
		"EMULATOR_DATA_DIR":      "/var/lib/emu",
		"EMULATOR_TENANT_ID":     "t1",
		"EMULATOR_CLIENT_ID":     "c1",
		"EMULATOR_CLIENT_SECRET": "s1",
		// AZURE_* without DATAVERSE_URL mean nothing: the emulator is the target.
		"AZURE_TENANT_ID": "ignored",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := config.Dataverse{
		URL: "https://127.0.0.1:9443", TenantID: "t1", ClientID: "c1", ClientSecret: "s1",
		AuthorityHost: "https://127.0.0.1:9443", CAFile: "/var/lib/emu/ca.pem", Emulated: true,
	}
	if c.Dataverse != want {
		t.Errorf("Dataverse = %+v, want %+v", c.Dataverse, want)
	}
}

func TestLoadWorkerDataverse(t *testing.T) {
	ca := testenv.WriteFile(t, "ca.pem", "-----BEGIN CERTIFICATE-----\n")
	c, err := config.LoadWorker(env(map[string]string{
		"DATAVERSE_URL":                  "https://contoso.crm.dynamics.com/",
		"AZURE_TENANT_ID":                "tenant",
		"AZURE_CLIENT_ID":                "client",
		"AZURE_CLIENT_SECRET":            "secret",
		"LEADBRIDGE_CA_FILE":             ca,
		"LEADBRIDGE_DELIVERED_RETENTION": "7d",
		"LEADBRIDGE_RETRY_HORIZON":       "90m",
		"LEADBRIDGE_REQUEST_TIMEOUT":     "5s",
		"LEADBRIDGE_WORKER_CONCURRENCY":  "52",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := config.Dataverse{
		URL: "https://contoso.crm.dynamics.com", TenantID: "tenant", ClientID: "client", ClientSecret: "secret",
		AuthorityHost: "https://login.microsoftonline.com", CAFile: ca,
	}
	if c.Dataverse != want {
		t.Errorf("Dataverse = %+v, want %+v", c.Dataverse, want)
	}
	if c.DeliveredRetention != 7*24*time.Hour || c.RetryHorizon != 90*time.Minute || c.RequestTimeout != 5*time.Second || c.Concurrency != 52 {
		t.Errorf("DeliveredRetention %s RetryHorizon %s RequestTimeout %s Concurrency %d", c.DeliveredRetention, c.RetryHorizon, c.RequestTimeout, c.Concurrency)
	}
}

func TestLoadAPIRefuses(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string // each must appear in the error
	}{
		{"address without a port", map[string]string{"LEADBRIDGE_ADDR": "8080"}, []string{"LEADBRIDGE_ADDR", `"8080"`}},
		{"short API token", map[string]string{"LEADBRIDGE_API_TOKEN": "short-token"}, []string{"LEADBRIDGE_API_TOKEN", "16 characters"}},
		{"proxy that is not a CIDR", map[string]string{"LEADBRIDGE_TRUSTED_PROXIES": "10.0.0.0/8,10.0.0.1"}, []string{"LEADBRIDGE_TRUSTED_PROXIES", `"10.0.0.1"`}},
		{"proxy with a prefix too long", map[string]string{"LEADBRIDGE_TRUSTED_PROXIES": "10.0.0.0/33"}, []string{"LEADBRIDGE_TRUSTED_PROXIES", `"10.0.0.0/33"`}},
		{"body limit not a number", map[string]string{"LEADBRIDGE_MAX_BODY_BYTES": "64k"}, []string{"LEADBRIDGE_MAX_BODY_BYTES"}},
		{"body limit too small", map[string]string{"LEADBRIDGE_MAX_BODY_BYTES": "100"}, []string{"LEADBRIDGE_MAX_BODY_BYTES"}},
		{"redis URL of another scheme", map[string]string{"LEADBRIDGE_REDIS_URL": "http://127.0.0.1:6379"}, []string{"LEADBRIDGE_REDIS_URL"}},
		{"sentinels without master", map[string]string{"LEADBRIDGE_REDIS_SENTINELS": "10.0.0.1:26379,10.0.0.2:26379"}, []string{"LEADBRIDGE_REDIS_MASTER", "LEADBRIDGE_REDIS_SENTINELS"}},
		{"sentinel address without a port", map[string]string{"LEADBRIDGE_REDIS_SENTINELS": "10.0.0.1", "LEADBRIDGE_REDIS_MASTER": "m"}, []string{"LEADBRIDGE_REDIS_SENTINELS", `"10.0.0.1"`}},
		{"cluster seed without a port", map[string]string{"LEADBRIDGE_REDIS_CLUSTER": "10.0.0.1:7000,redis-2"}, []string{"LEADBRIDGE_REDIS_CLUSTER", `"redis-2"`}},
		{"sentinels and cluster", map[string]string{"LEADBRIDGE_REDIS_SENTINELS": "a:1", "LEADBRIDGE_REDIS_MASTER": "m", "LEADBRIDGE_REDIS_CLUSTER": "b:2"}, []string{"LEADBRIDGE_REDIS_SENTINELS and LEADBRIDGE_REDIS_CLUSTER"}},
		{"missing forms file", map[string]string{"LEADBRIDGE_CONFIG": "/nonexistent/leadbridge.yaml"}, []string{"LEADBRIDGE_CONFIG", "/nonexistent/leadbridge.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.LoadAPI(env(tt.env))
			wantError(t, err, tt.want...)
		})
	}
}

func TestLoadWorkerRefuses(t *testing.T) {
	dv := map[string]string{
		"DATAVERSE_URL":       "https://contoso.crm.dynamics.com",
		"AZURE_TENANT_ID":     "tenant",
		"AZURE_CLIENT_ID":     "client",
		"AZURE_CLIENT_SECRET": "secret",
	}
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"Dataverse URL without credentials", map[string]string{"DATAVERSE_URL": "https://contoso.crm.dynamics.com"},
			[]string{"AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"}},
		{"Dataverse URL over http", with(dv, "DATAVERSE_URL", "http://contoso.crm.dynamics.com"), []string{"DATAVERSE_URL", "https"}},
		{"Dataverse URL with a path", with(dv, "DATAVERSE_URL", "https://contoso.crm.dynamics.com/api/data/v9.2"), []string{"DATAVERSE_URL"}},
		{"certificate instead of a secret", with(dv, "AZURE_CLIENT_SECRET", "", "AZURE_CLIENT_CERTIFICATE_PATH", "/c.pem"), []string{"AZURE_CLIENT_SECRET", "not supported"}},
		{"authority host over http", with(dv, "AZURE_AUTHORITY_HOST", "http://login.example.com"), []string{"AZURE_AUTHORITY_HOST"}},
		{"missing CA file", with(dv, "LEADBRIDGE_CA_FILE", "/nonexistent/ca.pem"), []string{"LEADBRIDGE_CA_FILE"}},
		{"worker address without a port", map[string]string{"LEADBRIDGE_WORKER_ADDR": "9090"}, []string{"LEADBRIDGE_WORKER_ADDR"}},
		{"concurrency zero", map[string]string{"LEADBRIDGE_WORKER_CONCURRENCY": "0"}, []string{"LEADBRIDGE_WORKER_CONCURRENCY"}},
		{"concurrency not a number", map[string]string{"LEADBRIDGE_WORKER_CONCURRENCY": "ten"}, []string{"LEADBRIDGE_WORKER_CONCURRENCY"}},
		{"request timeout not a duration", map[string]string{"LEADBRIDGE_REQUEST_TIMEOUT": "30"}, []string{"LEADBRIDGE_REQUEST_TIMEOUT"}},
		{"request timeout below a second", map[string]string{"LEADBRIDGE_REQUEST_TIMEOUT": "500ms"}, []string{"LEADBRIDGE_REQUEST_TIMEOUT"}},
		{"retry horizon below a minute", map[string]string{"LEADBRIDGE_RETRY_HORIZON": "30s"}, []string{"LEADBRIDGE_RETRY_HORIZON"}},
		{"retention in weeks", map[string]string{"LEADBRIDGE_DELIVERED_RETENTION": "4w"}, []string{"LEADBRIDGE_DELIVERED_RETENTION"}},
		{"retention in fractional days", map[string]string{"LEADBRIDGE_DELIVERED_RETENTION": "1.5d"}, []string{"LEADBRIDGE_DELIVERED_RETENTION"}},
		{"retention of zero days", map[string]string{"LEADBRIDGE_DELIVERED_RETENTION": "0d"}, []string{"LEADBRIDGE_DELIVERED_RETENTION"}},
		{"retention of negative days", map[string]string{"LEADBRIDGE_DELIVERED_RETENTION": "-30d"}, []string{"LEADBRIDGE_DELIVERED_RETENTION"}},
		{"retention of just d", map[string]string{"LEADBRIDGE_DELIVERED_RETENTION": "d"}, []string{"LEADBRIDGE_DELIVERED_RETENTION"}},
		{"retention of days that overflow", map[string]string{"LEADBRIDGE_DELIVERED_RETENTION": "300000d"}, []string{"LEADBRIDGE_DELIVERED_RETENTION"}},
		{"sentinels without master", map[string]string{"LEADBRIDGE_REDIS_SENTINELS": "10.0.0.1:26379"}, []string{"LEADBRIDGE_REDIS_MASTER"}},
		{"strict config neither true nor false", map[string]string{"LEADBRIDGE_STRICT_CONFIG": "strict"}, []string{"LEADBRIDGE_STRICT_CONFIG"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.LoadWorker(env(tt.env))
			wantError(t, err, tt.want...)
		})
	}
}

func TestLoadWorkerDurations(t *testing.T) {
	tests := []struct {
		value string
		want  time.Duration
	}{
		{"30d", 30 * 24 * time.Hour},
		{"1d", 24 * time.Hour},
		{"72h", 72 * time.Hour},
		{"90m", 90 * time.Minute},
		{"1h30m", 90 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			c, err := config.LoadWorker(env(map[string]string{"LEADBRIDGE_DELIVERED_RETENTION": tt.value}))
			if err != nil {
				t.Fatal(err)
			}
			if c.DeliveredRetention != tt.want {
				t.Errorf("DeliveredRetention = %s, want %s", c.DeliveredRetention, tt.want)
			}
		})
	}
}

// designExample is the YAML of shared/DESIGN.md, as a user would copy it,
// without the spam: and sources: keys that nothing implements yet.
const designExample = `
forms:
  contact-us:
    title: Contact us
    allowed_origins: [https://www.example.com]   # CORS + Origin check; "*" only in dev
    success_url: https://www.example.com/thanks   # for non-JS posts (303 redirect); optional
    error_url: https://www.example.com/oops       # optional; else the hosted page re-renders
    subject: "Website enquiry from {{.company}}"  # lead 'subject' (Topic) template
    lead_source: 8                                # leadsourcecode (8 = Web)
    match: [email]                                # dedupe keys: email | phone | email+company
    on_match: fill_empty                          # fill_empty | overwrite | create_new
    contact: link                                 # none | link (match/create a contact, bind parentcontactid)
    fields:
      email:      {column: emailaddress1, rules: "required,email,max=100"}
      first_name: {column: firstname,     rules: "max=50"}
      last_name:  {column: lastname,      rules: "required,max=50"}
      company:    {column: companyname,   rules: "max=100"}
      phone:      {column: telephone1,    rules: "omitempty,max=50"}
      message:    {column: description,   rules: "max=2000"}
      consent:    {column: donotbulkemail, type: bool, invert: true}
`

func TestLoadFormsDesignExample(t *testing.T) {
	path := testenv.WriteFile(t, "leadbridge.yaml", designExample)
	set, err := config.LoadForms(path, env(nil))
	if err != nil {
		t.Fatalf("the DESIGN.md example does not load: %v", err)
	}
	f, ok := set["contact-us"]
	if !ok || len(set) != 1 {
		t.Fatalf("forms = %v, want [contact-us]", set.IDs())
	}
	if f.Title != "Contact us" || f.SuccessURL != "https://www.example.com/thanks" || f.ErrorURL != "https://www.example.com/oops" ||
		f.LeadSource != 8 || f.OnMatch != forms.OnMatchFillEmpty || f.Contact != forms.ContactLink ||
		!reflect.DeepEqual(f.Match, []string{"email"}) || !reflect.DeepEqual(f.AllowedOrigins, []string{"https://www.example.com"}) {
		t.Errorf("form settings = %+v", f)
	}
	consent, _ := f.Field("consent")
	if consent.Label != "Consent" || consent.Column != "donotbulkemail" || consent.Type != "bool" || consent.Control != forms.ControlCheckbox ||
		!consent.Invert || consent.Role != forms.RoleConsent {
		t.Errorf("consent = %+v, want a checkbox labelled Consent writing donotbulkemail inverted", consent)
	}
	if got := f.RenderSubject(map[string]string{"company": "Contoso"}); got != "Website enquiry from Contoso" {
		t.Errorf("subject = %q, want %q", got, "Website enquiry from Contoso")
	}
}

func TestLoadFormsKeepsFieldOrder(t *testing.T) {
	path := testenv.WriteFile(t, "f.yaml", `
forms:
  order:
    fields:
      zeta:    {column: lastname, rules: required}
      alpha:   {column: firstname}
      email:   {column: emailaddress1}
      mid:     {}
      beta:    {column: companyname}
`)
	set, err := config.LoadForms(path, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, fd := range set["order"].Fields {
		names = append(names, fd.Name)
	}
	if want := []string{"zeta", "alpha", "email", "mid", "beta"}; !reflect.DeepEqual(names, want) {
		t.Errorf("field order = %v, want %v (the file's order)", names, want)
	}
}

func TestLoadFormsRefuses(t *testing.T) {
	const fields = `
    fields:
      email: {column: emailaddress1, rules: "required,email"}
      last_name: {column: lastname}`
	tests := []struct {
		name string
		yaml string
		env  map[string]string
		want []string
	}{
		{"misspelt form key", "forms:\n  f:\n    on_mach: overwrite" + fields, nil, []string{"on_mach"}},
		{"misspelt top-level key", "form:\n  f:\n    title: x" + fields, nil, []string{"form"}},
		{"misspelt field key", "forms:\n  f:\n    fields:\n      email: {column: emailaddress1, rule: required}", nil, []string{"forms.f.fields.email", "rule"}},
		{"unknown rules tag", "forms:\n  f:\n    fields:\n      email: {column: emailaddress1, rules: \"required,emial\"}", nil, []string{"forms.f.fields.email.rules", "emial"}},
		{"rules parameter not a number", "forms:\n  f:\n    fields:\n      email: {column: emailaddress1, rules: \"max=ten\"}", nil, []string{"forms.f.fields.email.rules"}},
		{"match no field can serve", "forms:\n  contact-us:\n    match: [phone]" + fields, nil,
			[]string{`forms.contact-us.match: "phone" needs a field with the phone role (a column like telephone1 or mobilephone, or role: phone)`}},
		{"match on a field named phone that is no phone", "forms:\n  f:\n    match: [phone]" + fields + "\n      phone: {column: jobtitle}", nil, []string{"forms.f.match", "phone role"}},
		{"match email+company without company", "forms:\n  f:\n    match: [email+company]" + fields, nil, []string{"forms.f.match", `"email+company"`, "company role"}},
		{"unknown role", "forms:\n  f:" + fields + "\n      x: {column: new_x, role: address}", nil, []string{"forms.f.fields.x.role", `"address"`}},
		{"consent role on text", "forms:\n  f:" + fields + "\n      x: {column: new_x, role: consent}", nil, []string{"forms.f.fields.x.role", "type: bool"}},
		{"unknown match rule", "forms:\n  f:\n    match: [name]" + fields, nil, []string{"forms.f.match", `"name"`}},
		{"unknown on_match", "forms:\n  f:\n    on_match: merge" + fields, nil, []string{"forms.f.on_match"}},
		{"unknown contact", "forms:\n  f:\n    contact: always" + fields, nil, []string{"forms.f.contact"}},
		{"unknown field type", "forms:\n  f:\n    fields:\n      n: {column: numberofemployees, type: int}", nil, []string{"forms.f.fields.n.type"}},
		{"alternate key nobody writes", "forms:\n  f:\n    alternate_key: telephone1" + fields, nil, []string{"forms.f.alternate_key"}},
		{"broken subject template", "forms:\n  f:\n    subject: \"{{.company\"" + fields, nil, []string{"forms.f.subject"}},
		{"no fields", "forms:\n  f:\n    title: x", nil, []string{"forms.f.fields"}},
		{"no forms", "forms: {}", nil, []string{"forms:"}},
		{"bad form id", "forms:\n  Contact Us:" + fields, nil, []string{"forms.Contact Us"}},
		{"not YAML", "forms: [", nil, []string{"f.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := testenv.WriteFile(t, "f.yaml", tt.yaml)
			_, err := config.LoadForms(path, env(tt.env))
			wantError(t, err, append([]string{path}, tt.want...)...)
		})
	}
}

func TestLoadAPIForms(t *testing.T) {
	path := testenv.WriteFile(t, "f.yaml", "forms:\n  a:\n    fields:\n      email: {column: emailaddress1}\n  b:\n    fields:\n      email: {column: emailaddress1}\n")
	c, err := config.LoadAPI(env(map[string]string{"LEADBRIDGE_CONFIG": path}))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Forms.IDs(); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("forms = %v, want [a b] (and no demo form)", got)
	}
}

// wantError fails unless err mentions every one of want.
func wantError(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one mentioning %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
}

// A field's role can be given where its column does not say it.
func TestLoadFormsRoles(t *testing.T) {
	path := testenv.WriteFile(t, "f.yaml", `
forms:
  f:
    match: [phone, email]
    fields:
      email:  {column: new_workemail, role: email}
      mobile: {column: new_mobile, role: phone}
      phone:  {column: telephone1, role: other}
      notes:  {column: new_notes, role: message}
`)
	set, err := config.LoadForms(path, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, fd := range set["f"].Fields {
		got = append(got, fd.Name+":"+string(fd.Role))
	}
	if want := []string{"email:email", "mobile:phone", "phone:other", "notes:message"}; !reflect.DeepEqual(got, want) {
		t.Errorf("roles = %v, want %v", got, want)
	}
	if got := set["f"].IdentityColumns(); !reflect.DeepEqual(got, []string{"new_mobile", "new_workemail"}) {
		t.Errorf("identity columns = %v, want [new_mobile new_workemail]", got)
	}
}
