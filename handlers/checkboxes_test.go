package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/leadbridge/leadbridge/internal/testenv"
)

// A checkbox group's values arrive as repeated form values (the page
// without JavaScript), a JSON list (embed.js) or typed text (an API
// client); all three store the same options' values. An option the form
// lacks is a 422 naming the field.
func TestCheckboxGroupIntake(t *testing.T) {
	t.Parallel()
	v := newEnvWith(t, envOptions{configFile: testenv.WriteFile(t, "forms.yaml", interestsConfig)})
	for _, tt := range []struct {
		name, ct, body string
	}{
		{"repeated form values", "application/x-www-form-urlencoded", "email=a%40example.com&interests=100000002&interests=100000001"},
		{"a JSON list", "application/json", `{"email":"b@example.com","interests":["100000002","100000001"]}`},
		{"typed labels", "application/json", `{"email":"c@example.com","interests":"Webinars, events"}`},
		{"labels in another language", "application/json", `{"email":"d@example.com","interests":"Webinare; Veranstaltungen"}`},
	} {
		rec := v.post("/f/prefs", tt.ct, tt.body, "Accept", "application/json")
		var got struct{ ID string }
		if rec.Code != http.StatusAccepted || json.Unmarshal(rec.Body.Bytes(), &got) != nil {
			t.Errorf("%s: %d %s, want 202", tt.name, rec.Code, rec.Body)
			continue
		}
		r, err := v.store.Get(context.Background(), got.ID)
		if err != nil || r.Fields["interests"] != "100000002,100000001" {
			t.Errorf("%s: stored %v %v, want interests 100000002,100000001", tt.name, r, err)
		}
	}
	rec := v.post("/f/prefs", "application/json", `{"email":"e@example.com","interests":["100000001","Golf"]}`, "Accept", "application/json")
	var body struct{ Fields map[string]string }
	json.Unmarshal(rec.Body.Bytes(), &body)
	if rec.Code != http.StatusUnprocessableEntity || body.Fields["interests"] == "" {
		t.Errorf("an option the form lacks: %d %s, want 422 naming interests", rec.Code, rec.Body)
	}
}
