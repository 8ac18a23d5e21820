// Package web is the web phone: the page the world simulator serves at its
// root, in plain HTML, CSS and JavaScript with no build step (no npm, no
// fonts or scripts from elsewhere: the machines that run it are offline).
//
// The page speaks only the simulator's JSON API under /api/ (described in
// internal/world); its element classes and ids are what the browser tests
// drive, so renaming one is a change to those tests too.
package web

import (
	"embed"
	"net/http"
)

// FS holds the page: index.html, phone.css and phone.js, at its root.
//
//go:embed index.html phone.css phone.js
var FS embed.FS

// Handler serves the page as the API contract places it: GET / is
// index.html, GET /static/phone.css and /static/phone.js the rest. Mount it
// at the root of the simulator's mux, beside /api/.
func Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		// The page is small and changes with the binary: never cached.
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeFileFS(w, r, FS, "index.html")
	})
	static := http.StripPrefix("/static/", http.FileServerFS(FS))
	mux.Handle("GET /static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		static.ServeHTTP(w, r)
	}))
	return mux
}
