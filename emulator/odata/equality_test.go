package odata

import "testing"

func TestRequiredEquality(t *testing.T) {
	const id = "6f1c2a3b-0000-4000-8000-00000000abcd"
	tests := []struct {
		filter   string
		col, val string
		ok       bool
	}{
		{"emailaddress1 eq 'Ann@Example.com'", "emailaddress1", "Ann@Example.com", true},
		{"'a@b.com' eq emailaddress1", "emailaddress1", "a@b.com", true},
		{"statecode eq 0 and emailaddress1 eq 'a@b.com'", "emailaddress1", "a@b.com", true},
		{"leadid eq 6F1C2A3B-0000-4000-8000-00000000ABCD", "leadid", id, true},
		{"createdon eq '2026-01-01' and emailaddress1 eq 'a@b.com'", "emailaddress1", "a@b.com", true},
		{"createdon eq '2026-01-01T00:00:00Z'", "", "", false},
		{"emailaddress1 eq 'x' or lastname eq 'a'", "", "", false},
		{"not (emailaddress1 eq 'x')", "", "", false},
		{"emailaddress1 ne 'x'", "", "", false},
		{"emailaddress1 eq null", "", "", false},
		{"statecode eq 0", "", "", false},
		{"firstname eq lastname", "", "", false},
		{"", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			f, err := ParseFilter(tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			col, val, ok := f.RequiredEquality()
			if col != tt.col || val != tt.val || ok != tt.ok {
				t.Errorf("RequiredEquality() = %q, %q, %v; want %q, %q, %v", col, val, ok, tt.col, tt.val, tt.ok)
			}
		})
	}
}

// TestFoldAgreesWithEq: an index keyed by Fold finds exactly the rows the
// filter's eq finds.
func TestFoldAgreesWithEq(t *testing.T) {
	pairs := [][2]string{
		{"Ann@Example.com", "ann@example.COM"},
		{"ÄNN", "änn"},
		{"ann", "anne"},
		{"straße", "STRASSE"}, // simple folding, like eq, keeps these apart
		{"\xff", "\xfe"},      // invalid UTF-8 reads as U+FFFD either way
	}
	for _, p := range pairs {
		f, err := ParseFilter("c eq '" + p[1] + "'")
		if err != nil {
			t.Fatal(err)
		}
		eq := f.Match(map[string]any{"c": p[0]})
		if folded := Fold(p[0]) == Fold(p[1]); folded != eq {
			t.Errorf("%q vs %q: Fold equal %v, but eq %v", p[0], p[1], folded, eq)
		}
	}
}
