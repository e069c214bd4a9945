package pandasim

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
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

// PatchAccountRequest is the body of PATCH /accounts/{id}. WatchGuard
// requires all four fields: the caller sends the whole contact, not a diff.
type PatchAccountRequest struct {
	Name      *string `json:"name"`
	FirstName *string `json:"firstName"`
	LastName  *string `json:"lastName"`
	Email     *string `json:"email"`
}

// validate checks that all four fields are present and, with the rules of
// a create, valid.
func (req PatchAccountRequest) validate() error {
	var missing []string
	for _, f := range []struct {
		name string
		v    *string
	}{{"name", req.Name}, {"firstName", req.FirstName}, {"lastName", req.LastName}, {"email", req.Email}} {
		if f.v == nil {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s required: PATCH replaces name, firstName, lastName and email together", strings.Join(missing, ", "))
	}
	// Type is irrelevant to a PATCH; borrow the create's checks.
	return CreateAccountRequest{Type: TypeSubscriber, Name: *req.Name, FirstName: *req.FirstName, LastName: *req.LastName, Email: *req.Email}.Validate()
}

// handlePatchAccount replaces an account's name and contact: 204, no body.
func (s *Server) handlePatchAccount(w http.ResponseWriter, r *http.Request) *apiError {
	id := r.PathValue("id")
	var req PatchAccountRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	if err := req.validate(); err != nil {
		return errorf(http.StatusBadRequest, CodeInvalidRequest, "%v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	acc := s.st.accounts[id]
	if acc == nil {
		return errorf(http.StatusNotFound, CodeNotFound, "account %s not found", id)
	}
	s.st.modifyAccount(acc, *req.Name, *req.FirstName, *req.LastName, *req.Email)
	s.version++
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// DeleteAccountResponse is the answer of DELETE /accounts/{id}: the ids of
// the descendants deleted with the account (only with force=true), deepest
// first.
type DeleteAccountResponse struct {
	ChildIDs []string `json:"childIds"`
}

// handleDeleteAccount deletes an account and its operators. With
// ?force=true its descendants go too; without, an account with children is
// refused. Either way nothing is deleted while the account or a descendant
// holds allocations: release the licences first.
func (s *Server) handleDeleteAccount(w http.ResponseWriter, r *http.Request) *apiError {
	id := r.PathValue("id")
	force := false
	if v := r.URL.Query().Get("force"); v != "" {
		switch v {
		case "true":
			force = true
		case "false":
		default:
			return errorf(http.StatusBadRequest, CodeInvalidRequest, "force must be true or false, not %q", v)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleLocked()
	s.expireTrialsLocked()
	acc := s.st.accounts[id]
	switch {
	case acc == nil:
		return errorf(http.StatusNotFound, CodeNotFound, "account %s not found", id)
	case id == s.st.root:
		return errorf(http.StatusConflict, CodeRootAccount, "the root account cannot be deleted")
	case len(acc.children) > 0 && !force:
		return errorf(http.StatusConflict, CodeHasChildren, "account %s still has %d child accounts; delete them first or pass force=true", id, len(acc.children))
	}
	tree := s.st.subtree(acc)
	for _, a := range tree {
		if len(a.allocs) > 0 {
			products := slices.Sorted(maps.Keys(a.allocs))
			if a == acc {
				return errorf(http.StatusConflict, CodeHasAllocations, "account %s holds allocations of %s; delete them first", id, strings.Join(products, ", "))
			}
			return errorf(http.StatusConflict, CodeHasAllocations, "descendant %s of account %s holds allocations of %s; delete them first", a.ID, id, strings.Join(products, ", "))
		}
	}
	writeJSON(w, http.StatusOK, DeleteAccountResponse{ChildIDs: s.removeTreeLocked(tree)})
	return nil
}

// removeTreeLocked removes the accounts of tree (deepest first, the root of
// the subtree last) and returns the ids of all but the last.
func (s *Server) removeTreeLocked(tree []*account) []string {
	ids := make([]string, 0, len(tree)-1)
	for _, a := range tree {
		s.st.removeAccount(a)
		ids = append(ids, a.ID)
	}
	s.version++
	return ids[:len(ids)-1]
}
