package erase

import "testing"

func TestPhoneIn(t *testing.T) {
	for s, want := range map[string]bool{
		"+1 (555) 010-2030":            true,
		"5550102030":                   true,
		"15550102030":                  true,
		"+44 5550102030":               true,
		"555.010.2030":                 true,
		"call 555 010 2030 after 2026": true,
		"2026 15550102030":             true,
		`{"phone":"555/010/2030"}`:     true,
		"12345550102030":               false, // four more digits: another number
		"55501020301":                  false, // a longer number
		"555 010 203":                  false,
		"order 9995550102030777":       false,
		"at 2026-12-02T13:31:27.555Z":  false,
		"5550102031":                   false,
	} {
		if got := phoneIn(s, "5550102030"); got != want {
			t.Errorf("phoneIn(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestAddressIn(t *testing.T) {
	for s, want := range map[string]bool{
		"ann@example.com":                    true,
		"<ann@example.com>":                  true,
		"mailto:ann@example.com?x=1":         true,
		"ann@example.com.":                   true,
		"joann@example.com":                  false,
		"ann@example.com.au":                 false,
		"ann@example.community":              false,
		"x.ann@example.com":                  false,
		"ann@example.com, joann@example.com": true,
	} {
		if got := addressIn(s, "ann@example.com"); got != want {
			t.Errorf("addressIn(%q) = %v, want %v", s, got, want)
		}
	}
}
