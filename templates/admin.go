package templates

import (
	"embed"
	"html/template"
)

//go:embed admin/*.html
var adminFiles embed.FS

// adminPages are the admin console's pages; each is parsed with the
// console's own layout (admin/layout.html).
var adminPages = []string{"login.html", "overview.html", "list.html", "detail.html", "audit.html", "erase.html", "error.html"}

// ParseAdmin parses the admin console's templates, keyed by page name.
func ParseAdmin() (map[string]*template.Template, error) {
	out := make(map[string]*template.Template, len(adminPages))
	for _, p := range adminPages {
		t, err := template.New(p).ParseFS(adminFiles, "admin/layout.html", "admin/"+p)
		if err != nil {
			return nil, err
		}
		out[p] = t
	}
	return out, nil
}
