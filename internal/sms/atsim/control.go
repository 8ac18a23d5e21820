package atsim

import (
	"encoding/json"
	"errors"
	"net/http"
)

// Control is a small HTTP API for a person or a web phone driving the
// simulator (mount it under a prefix with http.StripPrefix):
//
//	GET  /messages                 every accepted message
//	GET  /reports                  every delivery report posted
//	POST /queue                    queue one Outcome (JSON body)
//	POST /messages/{id}/deliver    post a delivery report; form fields
//	                               status (default Success), failureReason
//
// It has no authentication: serve it on loopback only.
func (s *Sim) Control() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /messages", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Messages())
	})
	mux.HandleFunc("GET /reports", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Reports())
	})
	mux.HandleFunc("POST /queue", func(w http.ResponseWriter, r *http.Request) {
		var o Outcome
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&o); err != nil {
			http.Error(w, "outcome: "+err.Error(), http.StatusBadRequest)
			return
		}
		s.Queue(o)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /messages/{id}/deliver", func(w http.ResponseWriter, r *http.Request) {
		status := r.FormValue("status")
		if status == "" {
			status = "Success"
		}
		err := s.Deliver(r.Context(), r.PathValue("id"), status, r.FormValue("failureReason"))
		switch {
		case errors.Is(err, errUnknownMessage):
			http.Error(w, err.Error(), http.StatusNotFound)
		case errors.Is(err, errBadStatus):
			http.Error(w, err.Error(), http.StatusBadRequest)
		case errors.Is(err, errNoDeliveryURL):
			http.Error(w, err.Error(), http.StatusConflict)
		case err != nil:
			http.Error(w, err.Error(), http.StatusBadGateway)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
