package pandasim

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// CreateAccountRequest is the body of POST /accounts/{parentAccountId}.
type CreateAccountRequest struct {
	Type      int    `json:"type"`
	Name      string `json:"name"`
	FirstName string `json:"firstName"`
	LastName  string `json:"lastName"`
	Email     string `json:"email"`
}

// AccountPage is the answer of GET /accounts/{id}/children.
type AccountPage struct {
	Data   []Account `json:"data"`
	Total  int       `json:"total"`
	Offset int       `json:"offset"`
	Limit  int       `json:"limit"`
}

// Paging of the children list.
const (
	DefaultPageLimit = 100
	MaxPageLimit     = 1000
)

// maxIDTries bounds the search for a free random id; with ten million ids
// it only fails when the space is nearly full.
const maxIDTries = 64

func validAccountID(id string) bool {
	rest, ok := strings.CutPrefix(id, "ACC-")
	if !ok || len(rest) != 7 {
		return false
	}
	for _, c := range []byte(rest) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Validate checks the fields the simulator insists on: a known type, a name
// of 1–100 characters, an email that has an @. First and last name are
// optional, at most 100 characters.
func (req CreateAccountRequest) Validate() error {
	switch {
	case req.Type != TypeServiceProvider && req.Type != TypeSubscriber:
		return fmt.Errorf("type must be 1 (service provider) or 2 (subscriber), not %d", req.Type)
	case strings.TrimSpace(req.Name) == "":
		return fmt.Errorf("name is required")
	case utf8.RuneCountInString(req.Name) > 100:
		return fmt.Errorf("name is longer than 100 characters")
	case utf8.RuneCountInString(req.FirstName) > 100 || utf8.RuneCountInString(req.LastName) > 100:
		return fmt.Errorf("firstName and lastName must be at most 100 characters")
	}
	return validEmail(req.Email)
}

func validEmail(e string) error {
	at := strings.IndexByte(e, '@')
	if at <= 0 || at == len(e)-1 || len(e) > 254 || strings.ContainsAny(e, " \t\r\n") {
		return fmt.Errorf("email %q is not a valid address", e)
	}
	return nil
}

func (s *Server) handleCreateAccount(w http.ResponseWriter, r *http.Request) *apiError {
	parentID := r.PathValue("parentId")
	var req CreateAccountRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	if err := req.Validate(); err != nil {
		return errorf(http.StatusBadRequest, CodeInvalidRequest, "%v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleLocked()
	parent := s.st.accounts[parentID]
	switch {
	case parent == nil:
		return errorf(http.StatusNotFound, CodeNotFound, "parent account %s not found", parentID)
	case parent.Type == TypeSubscriber:
		return errorf(http.StatusConflict, CodeParentIsSubscriber, "account %s is a subscriber and cannot have child accounts", parentID)
	case parent.depth+1 > s.maxTiers:
		return errorf(http.StatusConflict, CodeTierLimit, "account %s is at tier %d; at most %d tiers are allowed below the root", parentID, parent.depth, s.maxTiers)
	}
	id, ok := s.newAccountIDLocked()
	if !ok {
		return errorf(http.StatusInsufficientStorage, CodeIDSpaceExhausted, "no free account id")
	}
	acc := s.st.addAccount(Account{
		ID:        id,
		ParentID:  parentID,
		Type:      req.Type,
		Name:      req.Name,
		FirstName: req.FirstName,
		LastName:  req.LastName,
		Email:     req.Email,
	}, parent)
	s.version++
	w.Header().Set("Location", AccountsPrefix+"/"+id)
	writeJSON(w, http.StatusCreated, acc.Account)
	return nil
}

func (s *Server) newAccountIDLocked() (string, bool) {
	for range maxIDTries {
		id := fmt.Sprintf("ACC-%07d", s.rng.IntN(10_000_000))
		if _, taken := s.st.accounts[id]; !taken {
			return id, true
		}
	}
	return "", false
}

func (s *Server) handleGetAccount(w http.ResponseWriter, r *http.Request) *apiError {
	id := r.PathValue("id")
	s.mu.Lock()
	acc := s.st.accounts[id]
	var out Account
	if acc != nil {
		out = acc.Account
	}
	s.mu.Unlock()
	if acc == nil {
		return errorf(http.StatusNotFound, CodeNotFound, "account %s not found", id)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) handleListChildren(w http.ResponseWriter, r *http.Request) *apiError {
	id := r.PathValue("id")
	q := r.URL.Query()
	name := q.Get("name")
	typ, err := intParam(q.Get("type"), 0)
	if err != nil || (typ != 0 && typ != TypeServiceProvider && typ != TypeSubscriber) {
		return errorf(http.StatusBadRequest, CodeInvalidRequest, "type must be 1 or 2")
	}
	offset, err := intParam(q.Get("offset"), 0)
	if err != nil || offset < 0 {
		return errorf(http.StatusBadRequest, CodeInvalidRequest, "offset must be a number >= 0")
	}
	limit, err := intParam(q.Get("limit"), DefaultPageLimit)
	if err != nil || limit < 0 {
		return errorf(http.StatusBadRequest, CodeInvalidRequest, "limit must be a number >= 0")
	}
	if limit == 0 {
		limit = DefaultPageLimit
	}
	limit = min(limit, MaxPageLimit)

	s.mu.Lock()
	defer s.mu.Unlock()
	acc := s.st.accounts[id]
	if acc == nil {
		return errorf(http.StatusNotFound, CodeNotFound, "account %s not found", id)
	}
	ids := acc.children
	if q.Has("name") {
		ids = acc.byName[name]
	}
	page := AccountPage{Data: []Account{}, Offset: offset, Limit: limit}
	for _, cid := range ids {
		c := s.st.accounts[cid]
		if typ != 0 && c.Type != typ {
			continue
		}
		if page.Total >= offset && len(page.Data) < limit {
			page.Data = append(page.Data, c.Account)
		}
		page.Total++
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

func intParam(s string, def int) (int, error) {
	if s == "" {
		return def, nil
	}
	return strconv.Atoi(s)
}

func (s *Server) handleDeleteAccount(w http.ResponseWriter, r *http.Request) *apiError {
	id := r.PathValue("id")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleLocked()
	acc := s.st.accounts[id]
	switch {
	case acc == nil:
		return errorf(http.StatusNotFound, CodeNotFound, "account %s not found", id)
	case id == s.st.root:
		return errorf(http.StatusConflict, CodeRootAccount, "the root account cannot be deleted")
	case len(acc.children) > 0:
		return errorf(http.StatusConflict, CodeHasChildren, "account %s still has %d child accounts; delete them first", id, len(acc.children))
	}
	s.st.removeAccount(acc)
	s.version++
	w.WriteHeader(http.StatusNoContent)
	return nil
}
