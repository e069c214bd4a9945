package pandasim

import (
	"errors"
	"net/http"
	"time"
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
	s.st = newStore(s.st.root, s.rootInventory)
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

// ClockRequest is the body of POST /_sim/clock.
type ClockRequest struct {
	// Advance moves the simulator's time forward by this much ("720h").
	Advance Duration `json:"advance"`
}

// ClockResponse is the answer of POST /_sim/clock.
type ClockResponse struct {
	Now time.Time `json:"now"`
}

// AdvanceClock moves the simulator's time forward by d, so that a test in
// another process can let a trial expire without waiting 30 days. Tokens
// and operator transactions see the same clock: a client simply fetches a
// new token after a jump past their lifetime.
func (s *Server) AdvanceClock(d time.Duration) error {
	if d < 0 {
		return errors.New("the clock only moves forward")
	}
	s.clockOffset.Add(int64(d))
	s.mu.Lock()
	s.version++ // trials may have ended
	s.mu.Unlock()
	return nil
}

func (s *Server) handleAdvanceClock(w http.ResponseWriter, r *http.Request) {
	var req ClockRequest
	if err := decodeBody(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	if err := s.AdvanceClock(time.Duration(req.Advance)); err != nil {
		writeError(w, errorf(http.StatusBadRequest, CodeInvalidRequest, "%v", err))
		return
	}
	writeJSON(w, http.StatusOK, ClockResponse{Now: s.now().UTC()})
}

// roleOnConversion maps a subscriber's operator roles to the service
// provider roles WatchGuard gives them when it converts the account.
var roleOnConversion = map[string]string{
	"ADMINISTRATOR": "OWNER",
	"ANALYST":       "HELPDESK",
	"OBSERVER":      "AUDITOR",
}

// ConvertToServiceProvider does what the WatchGuard console's "Convert
// Account" does (there is no API for it): a subscriber becomes a service
// provider, under the same parent, keeping its operators (roles remapped
// ADMINISTRATOR→OWNER, ANALYST→HELPDESK, OBSERVER→AUDITOR) and allocations.
// It is one way; it is refused for an account on the deepest tier, which as
// a service provider could never have children (WatchGuard: the result
// cannot be a tier-4 service provider, counting the root as tier 1).
func (s *Server) ConvertToServiceProvider(id string) (Account, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleLocked()
	acc := s.st.accounts[id]
	switch {
	case acc == nil:
		return Account{}, errorf(http.StatusNotFound, CodeNotFound, "account %s not found", id)
	case acc.Type != TypeSubscriber:
		return Account{}, errorf(http.StatusConflict, CodeNotSubscriber, "account %s is already a service provider; a conversion is one way", id)
	case acc.depth >= s.maxTiers:
		return Account{}, errorf(http.StatusConflict, CodeTierLimit,
			"account %s is at tier %d below the root, the deepest allowed; as a service provider it could have no children", id, acc.depth)
	}
	acc.Type = TypeServiceProvider
	for u := range acc.ops {
		op := s.st.operators[u]
		if to, ok := roleOnConversion[op.Role]; ok {
			op.Role = to
		}
	}
	s.version++
	return acc.Account, nil
}

func (s *Server) handleConvertAccount(w http.ResponseWriter, r *http.Request) {
	acc, err := s.ConvertToServiceProvider(r.PathValue("id"))
	if err != nil {
		writeError(w, err.(*apiError))
		return
	}
	writeJSON(w, http.StatusOK, acc)
}

// SimPatchAccountRequest is the body of PATCH /_sim/accounts/{id}: unlike
// the API's PATCH, any subset of the fields, as an operator editing the
// account in the console would change them.
type SimPatchAccountRequest struct {
	Name      *string `json:"name"`
	FirstName *string `json:"firstName"`
	LastName  *string `json:"lastName"`
	Email     *string `json:"email"`
}

// handleSimPatchAccount changes an account behind its owner's back, so a
// test can make Panda drift from the BSS.
func (s *Server) handleSimPatchAccount(w http.ResponseWriter, r *http.Request) {
	var req SimPatchAccountRequest
	if err := decodeBody(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	id := r.PathValue("id")
	s.mu.Lock()
	defer s.mu.Unlock()
	acc := s.st.accounts[id]
	if acc == nil {
		writeError(w, errorf(http.StatusNotFound, CodeNotFound, "account %s not found", id))
		return
	}
	full := PatchAccountRequest{Name: &acc.Name, FirstName: &acc.FirstName, LastName: &acc.LastName, Email: &acc.Email}
	for _, f := range []struct{ from, to **string }{{&req.Name, &full.Name}, {&req.FirstName, &full.FirstName}, {&req.LastName, &full.LastName}, {&req.Email, &full.Email}} {
		if *f.from != nil {
			*f.to = *f.from
		}
	}
	if err := full.validate(); err != nil {
		writeError(w, errorf(http.StatusBadRequest, CodeInvalidRequest, "%v", err))
		return
	}
	s.st.modifyAccount(acc, *full.Name, *full.FirstName, *full.LastName, *full.Email)
	s.version++
	writeJSON(w, http.StatusOK, acc.Account)
}

// handleSimDeleteAccount deletes an account as the console does: with its
// descendants, their operators and their allocations (the licences return
// to the parent), whatever they hold. Only the root is refused.
func (s *Server) handleSimDeleteAccount(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleLocked()
	acc := s.st.accounts[id]
	switch {
	case acc == nil:
		writeError(w, errorf(http.StatusNotFound, CodeNotFound, "account %s not found", id))
		return
	case id == s.st.root:
		writeError(w, errorf(http.StatusConflict, CodeRootAccount, "the root account cannot be deleted"))
		return
	}
	writeJSON(w, http.StatusOK, DeleteAccountResponse{ChildIDs: s.removeTreeLocked(s.st.subtree(acc))})
}
