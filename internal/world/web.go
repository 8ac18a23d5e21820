package world

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
)

// The web phone: plain HTML, CSS and JavaScript, embedded so that the
// binary serves it with no build step. index.html is the page; its css and
// js are under /static/ (web/static/, or web/ itself).
//
//go:embed web
var webFiles embed.FS

// web is the page's folder.
var web, _ = fs.Sub(webFiles, "web")

// index answers GET /: the page.
func (w *World) index(rw http.ResponseWriter, r *http.Request) {
	rw.Header().Set("Cache-Control", "no-cache")
	http.ServeFileFS(rw, r, web, "index.html")
}

// static answers GET /static/{path}: the page's css and js.
func (w *World) static(rw http.ResponseWriter, r *http.Request) {
	name := path.Clean(r.PathValue("path"))
	if !fs.ValidPath(name) || name == "." {
		http.NotFound(rw, r)
		return
	}
	for _, candidate := range []string{path.Join("static", name), name} {
		if st, err := fs.Stat(web, candidate); err == nil && !st.IsDir() {
			rw.Header().Set("Cache-Control", "no-cache")
			http.ServeFileFS(rw, r, web, candidate)
			return
		}
	}
	http.NotFound(rw, r)
}
