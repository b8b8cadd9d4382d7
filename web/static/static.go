// Package static holds the browser assets leadbridge serves, embedded in
// the binary and addressed by a content hash so they can be cached for good.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
)

//go:embed *.css *.js admin
var files embed.FS

// FS is the embedded assets.
var FS fs.FS = files

// File returns an asset's content.
func File(name string) ([]byte, error) { return fs.ReadFile(files, name) }

// Hashes maps each asset's name to a short hash of its content, for URLs
// such as /static/form.css?v=1a2b3c4d.
func Hashes() (map[string]string, error) {
	out := map[string]string{}
	err := fs.WalkDir(files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(files, path)
		if err != nil {
			return err
		}
		h := sha256.Sum256(b)
		out[path] = hex.EncodeToString(h[:4])
		return nil
	})
	return out, err
}
