package handlers_test

import (
	"net/http"
	"testing"
)

// FuzzSubmit: whatever arrives at POST /f/demo, the answer is a 2xx or a
// 4xx — never a 5xx or a panic. Run longer with
// go test -fuzz FuzzSubmit -fuzztime 60s ./handlers/
func FuzzSubmit(f *testing.F) {
	v := newEnv(f)
	f.Add("application/json", `{"last_name":"Lee","email":"ann@example.com","consent":true}`)
	f.Add("application/json", `{"last_name":["a","b"],"email":1e400}`)
	f.Add("application/json", `{"last_name":"\u0000","email":"a@b.co"}`)
	f.Add("application/json", `null`)
	f.Add("application/json; charset=utf-8", `{"email":"x@y.z","last_name":"O'Brien","message":"`+"\xff\xfe"+`"}`)
	f.Add("application/x-www-form-urlencoded", "last_name=Lee&email=ann%40example.com&consent=on")
	f.Add("application/x-www-form-urlencoded", "%zz=1&email=%")
	f.Add("multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\na@b.co\r\n--x--\r\n")
	f.Add("multipart/form-data", "garbage")
	f.Add("text/plain", "hello")
	f.Fuzz(func(t *testing.T, ctype, body string) {
		rec := v.post("/f/demo", ctype, body, "Accept", "application/json")
		if rec.Code >= 500 && rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("%q %q: status %d: %s", ctype, body, rec.Code, rec.Body.String())
		}
	})
}
