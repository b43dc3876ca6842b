package docusignsim

import (
	"encoding/json"
	"errors"
	"net/http"
)

func (s *Server) authMux() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /oauth/token", s.handle(kindAuth, "", OpToken, "", s.handleToken))
	mux.Handle("GET /oauth/userinfo", s.handle(kindAuth, "", OpUserinfo, "", s.handleUserinfo))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, oauthErrorBody{Error: "not_found", ErrorDescription: r.Method + " " + r.URL.Path})
	})
	return mux
}

type controlError struct {
	Error string `json:"error"`
}

// controlMux serves the /_sim/ endpoints (see the package documentation).
func (s *Server) controlMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_sim/state", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Dump())
	})
	mux.HandleFunc("GET /_sim/info", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Info())
	})
	mux.HandleFunc("GET /_sim/faults", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Faults())
	})
	mux.HandleFunc("POST /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		var f Fault
		if !decodeControl(w, r, &f) {
			return
		}
		controlResult(w, s.SetFault(f), s.Faults())
	})
	mux.HandleFunc("DELETE /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		s.ClearFaults(r.URL.Query()["operation"]...)
		writeJSON(w, http.StatusOK, s.Faults())
	})
	mux.HandleFunc("POST /_sim/foreign/rate", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			AccountID      string `json:"account_id"`
			CallsPerWindow int    `json:"calls_per_window"`
		}
		if !decodeControl(w, r, &req) {
			return
		}
		controlResult(w, s.SetForeignRate(req.AccountID, req.CallsPerWindow), req)
	})
	mux.HandleFunc("POST /_sim/foreign/spend", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			AccountID string `json:"account_id"`
			Calls     int    `json:"calls"`
		}
		if !decodeControl(w, r, &req) {
			return
		}
		accepted, err := s.SpendForeign(req.AccountID, req.Calls)
		controlResult(w, err, map[string]int{"accepted": accepted})
	})
	mux.HandleFunc("POST /_sim/tokens/expire", func(w http.ResponseWriter, _ *http.Request) {
		s.ExpireTokens()
		writeJSON(w, http.StatusOK, map[string]bool{"expired": true})
	})
	mux.HandleFunc("POST /_sim/accounts/{accountId}/environment", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Environment string `json:"environment"`
		}
		if !decodeControl(w, r, &req) {
			return
		}
		controlResult(w, s.MoveAccount(r.PathValue("accountId"), req.Environment), req)
	})
	mux.HandleFunc("POST /_sim/users/{userId}/userinfo", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Mode string `json:"mode"`
		}
		if !decodeControl(w, r, &req) {
			return
		}
		controlResult(w, s.SetUserinfoMode(r.PathValue("userId"), req.Mode), req)
	})
	mux.HandleFunc("POST /_sim/memberships/activate", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			User      string `json:"user"`
			AccountID string `json:"account_id"`
		}
		if !decodeControl(w, r, &req) {
			return
		}
		controlResult(w, s.ActivateMembership(req.User, req.AccountID), req)
	})
	mux.HandleFunc("POST /_sim/counters/reset", func(w http.ResponseWriter, _ *http.Request) {
		s.ResetCounters()
		writeJSON(w, http.StatusOK, map[string]bool{"reset": true})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, controlError{Error: "no such control endpoint: " + r.Method + " " + r.URL.Path})
	})
	return mux
}

func decodeControl(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, controlError{Error: "invalid body: " + err.Error()})
		return false
	}
	return true
}

func controlResult(w http.ResponseWriter, err error, ok any) {
	switch {
	case errors.Is(err, ErrUnknown):
		writeJSON(w, http.StatusNotFound, controlError{Error: err.Error()})
	case err != nil:
		writeJSON(w, http.StatusBadRequest, controlError{Error: err.Error()})
	default:
		writeJSON(w, http.StatusOK, ok)
	}
}
