package pandasim

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"time"
)

// CreateOperatorRequest is the body of POST /operators.
type CreateOperatorRequest struct {
	Username  string `json:"username"`
	AccountID string `json:"accountId"`
	FirstName string `json:"firstName"`
	LastName  string `json:"lastName"`
	Email     string `json:"email"`
	Role      string `json:"role"`
}

// OperatorList is the answer of GET /operators?accountId=.
type OperatorList struct {
	Data  []Operator `json:"data"`
	Total int        `json:"total"`
}

// Roles by account type.
var (
	serviceProviderRoles = []string{"OWNER", "SALES", "HELPDESK", "AUDITOR"}
	subscriberRoles      = []string{"ADMINISTRATOR", "ANALYST", "OBSERVER"}
)

// ValidUsername reports whether u is 5–65 characters of A-Z a-z 0-9 . - _ +.
func ValidUsername(u string) bool {
	if len(u) < 5 || len(u) > 65 {
		return false
	}
	for i := 0; i < len(u); i++ {
		c := u[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '.', c == '-', c == '_', c == '+':
		default:
			return false
		}
	}
	return true
}

func rolesFor(accountType int) []string {
	if accountType == TypeSubscriber {
		return subscriberRoles
	}
	return serviceProviderRoles
}

// handleCreateOperator checks what can be checked at once (syntax: 400;
// account: 404; role: 400) and answers 202 PENDING. Uniqueness is decided
// here too, under the lock, but reported through the transaction: a taken
// username (by an operator or by another pending transaction) dooms the
// transaction to FAILED with USERNAME_TAKEN.
func (s *Server) handleCreateOperator(w http.ResponseWriter, r *http.Request) *apiError {
	var req CreateOperatorRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	if !ValidUsername(req.Username) {
		return errorf(http.StatusBadRequest, CodeInvalidUsername, "username must be 5 to 65 characters of A-Z a-z 0-9 . - _ +")
	}
	if err := validEmail(req.Email); err != nil {
		return errorf(http.StatusBadRequest, CodeInvalidRequest, "%v", err)
	}
	if req.AccountID == "" {
		return errorf(http.StatusBadRequest, CodeInvalidRequest, "accountId is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleLocked()
	acc := s.st.accounts[req.AccountID]
	if acc == nil {
		return errorf(http.StatusNotFound, CodeNotFound, "account %s not found", req.AccountID)
	}
	if roles := rolesFor(acc.Type); !slices.Contains(roles, req.Role) {
		return errorf(http.StatusBadRequest, CodeInvalidRole, "role %q does not fit account %s; use one of %v", req.Role, acc.ID, roles)
	}
	now := s.now()
	tx := &TransactionRecord{
		Transaction: Transaction{
			ID:        fmt.Sprintf("TX-%016x", s.rng.Uint64()),
			Status:    "PENDING",
			Username:  req.Username,
			AccountID: req.AccountID,
		},
		Operator: Operator{
			Username:  req.Username,
			AccountID: req.AccountID,
			FirstName: req.FirstName,
			LastName:  req.LastName,
			Email:     req.Email,
			Role:      req.Role,
		},
		SettleAt: now.Add(time.Duration(s.txDelay.Load())),
		LinkBase: "http://" + r.Host,
	}
	key := foldUsername(req.Username)
	if _, taken := s.st.operators[key]; taken {
		tx.DoomedCode = CodeUsernameTaken
	} else if _, taken := s.st.reserved[key]; taken {
		tx.DoomedCode = CodeUsernameTaken
	} else {
		s.st.reserved[key] = tx.ID
	}
	s.st.txs[tx.ID] = tx
	s.st.txOrder = append(s.st.txOrder, tx.ID)
	s.st.pending = append(s.st.pending, tx.ID)
	s.version++
	writeJSON(w, http.StatusAccepted, tx.Transaction)
	return nil
}

func (s *Server) handleTransactionStatus(w http.ResponseWriter, r *http.Request) *apiError {
	id := r.URL.Query().Get("transaction_id")
	if id == "" {
		return errorf(http.StatusBadRequest, CodeInvalidRequest, "transaction_id is required")
	}
	s.mu.Lock()
	s.settleLocked()
	tx := s.st.txs[id]
	var out Transaction
	if tx != nil {
		out = tx.Transaction
	}
	s.mu.Unlock()
	if tx == nil {
		return errorf(http.StatusNotFound, CodeNotFound, "transaction %s not found", id)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) handleGetOperator(w http.ResponseWriter, r *http.Request) *apiError {
	u := r.PathValue("username")
	s.mu.Lock()
	s.settleLocked()
	op := s.st.operators[foldUsername(u)]
	var out Operator
	if op != nil {
		out = op.Operator
	}
	s.mu.Unlock()
	if op == nil {
		return errorf(http.StatusNotFound, CodeNotFound, "operator %q not found", u)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) handleListOperators(w http.ResponseWriter, r *http.Request) *apiError {
	id := r.URL.Query().Get("accountId")
	if id == "" {
		return errorf(http.StatusBadRequest, CodeInvalidRequest, "accountId is required")
	}
	s.mu.Lock()
	s.settleLocked()
	acc := s.st.accounts[id]
	var out OperatorList
	if acc != nil {
		out.Data = make([]Operator, 0, len(acc.ops))
		for _, k := range slices.Sorted(maps.Keys(acc.ops)) {
			out.Data = append(out.Data, s.st.operators[k].Operator)
		}
		out.Total = len(out.Data)
	}
	s.mu.Unlock()
	if acc == nil {
		return errorf(http.StatusNotFound, CodeNotFound, "account %s not found", id)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
