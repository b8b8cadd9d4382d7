// Package templates holds leadbridge's HTML templates, embedded in the
// binary and parsed once at start-up so a broken template fails fast.
package templates

import (
	"embed"
	"html/template"
)

//go:embed *.html
var files embed.FS

// Parse parses every page template with the shared layout.
func Parse() (map[string]*template.Template, error) {
	pages := []string{"form.html", "thanks.html", "message.html"}
	out := make(map[string]*template.Template, len(pages))
	for _, p := range pages {
		t, err := template.New(p).ParseFS(files, "layout.html", p)
		if err != nil {
			return nil, err
		}
		out[p] = t
	}
	return out, nil
}
