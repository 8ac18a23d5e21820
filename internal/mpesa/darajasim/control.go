package darajasim

import (
	"net/http"
)

// Control is a small JSON API for a person or a web phone driving the
// simulator (mount it under a prefix with http.StripPrefix):
//
//	GET  /prompts                 the manual STK prompts still open
//	POST /prompts/{id}/approve    pay one (also cancel, wrong-pin, ignore)
//	POST /flush                   run everything waiting on LateDelay now
//	GET  /callbacks               every callback attempt
//
// It has no authentication: serve it on loopback only.
func (s *Sim) Control() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /prompts", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Prompts())
	})
	mux.HandleFunc("POST /prompts/{id}/{action}", func(w http.ResponseWriter, r *http.Request) {
		act := map[string]func(string) error{
			"approve":   s.Approve,
			"cancel":    s.Cancel,
			"wrong-pin": s.WrongPIN,
			"ignore":    s.Ignore,
		}[r.PathValue("action")]
		if act == nil {
			http.Error(w, "unknown action", http.StatusNotFound)
			return
		}
		if err := act(r.PathValue("id")); err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /flush", func(w http.ResponseWriter, r *http.Request) {
		s.Flush()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /callbacks", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Callbacks())
	})
	return mux
}
