package pandasim

import (
	"net/http"
)

// The /_sim/... endpoints control and inspect the simulator. They need no
// token: bind the simulator to loopback.

func (s *Server) handleSimState(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Snapshot())
}

func (s *Server) handleSimStats(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Stats())
}

func (s *Server) handleGetFaults(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Faults())
}

// handlePutFaults replaces the faults with the body; {} clears them.
func (s *Server) handlePutFaults(w http.ResponseWriter, r *http.Request) {
	var f Faults
	if err := decodeBody(w, r, &f); err != nil {
		writeError(w, err)
		return
	}
	if err := s.SetFaults(f); err != nil {
		writeError(w, errorf(http.StatusBadRequest, CodeInvalidRequest, "%v", err))
		return
	}
	writeJSON(w, http.StatusOK, s.Faults())
}

// handleActivate "clicks" an activation link: ?token= (as in the emailed
// link) or ?username=. Clicking twice is harmless.
func (s *Server) handleActivate(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	s.settleLocked()
	key := ""
	switch {
	case q.Get("token") != "":
		key = s.st.activation[q.Get("token")]
	case q.Get("username") != "":
		key = foldUsername(q.Get("username"))
	default:
		s.mu.Unlock()
		writeError(w, errorf(http.StatusBadRequest, CodeInvalidRequest, "give token or username"))
		return
	}
	op := s.st.operators[key]
	if op == nil {
		s.mu.Unlock()
		writeError(w, errorf(http.StatusNotFound, CodeNotFound, "no operator for that activation link"))
		return
	}
	if !op.Activated {
		op.Activated = true
		s.version++
	}
	out := op.Operator
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// Reset returns the state to the root account alone, zeroes the stats and
// re-seeds the RNGs so a test can replay from here. Tokens and faults are
// kept.
func (s *Server) Reset() {
	s.mu.Lock()
	s.st = newStore(s.st.root)
	s.reseed()
	s.version++
	s.mu.Unlock()
	s.faults.mu.Lock()
	s.faults.reseed()
	s.faults.mu.Unlock()
	s.stats.reset()
}

func (s *Server) handleReset(w http.ResponseWriter, r *http.Request) {
	s.Reset()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleRevokeTokens(w http.ResponseWriter, r *http.Request) {
	s.RevokeTokens()
	w.WriteHeader(http.StatusNoContent)
}
