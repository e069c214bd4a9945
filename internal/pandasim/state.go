package pandasim

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Account types, as on the wire.
const (
	TypeServiceProvider = 1
	TypeSubscriber      = 2
)

// Account is an account as the simulator stores and serves it.
type Account struct {
	ID        string `json:"id"`
	ParentID  string `json:"parentId"`
	Type      int    `json:"type"`
	Name      string `json:"name"`
	FirstName string `json:"firstName"`
	LastName  string `json:"lastName"`
	Email     string `json:"email"`
}

// Operator is an operator as the simulator stores and serves it.
type Operator struct {
	Username  string `json:"username"`
	AccountID string `json:"accountId"`
	FirstName string `json:"firstName"`
	LastName  string `json:"lastName"`
	Email     string `json:"email"`
	Role      string `json:"role"`
	Activated bool   `json:"activated"`
}

// Transaction is an asynchronous operator creation.
type Transaction struct {
	ID        string `json:"transaction_id"`
	Status    string `json:"status"`
	ErrorCode string `json:"errorCode,omitempty"`
	Error     string `json:"error,omitempty"`
	Username  string `json:"username"`
	AccountID string `json:"accountId"`
}

// Email is one message in the outbox: the activation email sent when an
// operator is created.
type Email struct {
	To       string    `json:"to"`
	Username string    `json:"username"`
	Subject  string    `json:"subject"`
	Link     string    `json:"link"`
	Token    string    `json:"token"`
	SentAt   time.Time `json:"sentAt"`
}

// Snapshot is the whole simulator state: what GET /_sim/state answers and
// what --state saves. Accounts are in creation order (parents before
// children), operators ordered by username.
type Snapshot struct {
	RootAccountID string     `json:"rootAccountId"`
	Accounts      []Account  `json:"accounts"`
	Operators     []Operator `json:"operators"`
	// Transactions holds every operator transaction, settled or not, in
	// creation order.
	Transactions []TransactionRecord `json:"transactions"`
	Outbox       []Email             `json:"outbox"`
	// Allocations lists every account's allocations, accounts in creation
	// order, products in catalogue order.
	Allocations []AccountAllocation `json:"allocations"`
	// Inventory shows, for every account that holds or has handed on
	// licences, its stock per product. It is derived from RootInventory and
	// Allocations; [Server.Restore] ignores it.
	Inventory []AccountInventory `json:"inventory"`
	// RootInventory is the root's configured inventory. It is configuration
	// (WithRootInventory, --root-inventory), not state: [Server.Restore]
	// keeps the server's own.
	RootInventory map[string]int `json:"rootInventory"`
	// TrialsEnded lists the trials that ended recently enough that a new
	// trial of the product is not yet available to the account.
	TrialsEnded []TrialEnd `json:"trialsEnded"`
}

// TransactionRecord is a [Transaction] with what the simulator needs to
// settle it later.
type TransactionRecord struct {
	Transaction
	Operator Operator  `json:"operator"`
	SettleAt time.Time `json:"settleAt"`
	// LinkBase is the scheme and host the activation link will point to.
	LinkBase string `json:"linkBase"`
	// DoomedCode is set at POST time when the username was already taken:
	// the transaction will fail with it when it settles.
	DoomedCode string `json:"doomedCode,omitempty"`
}

type account struct {
	Account
	depth    int
	seq      uint64
	children []string               // ids in creation order
	byName   map[string][]string    // name -> child ids, for the name filter
	ops      map[string]struct{}    // folded usernames of its operators
	allocs   map[string]*Allocation // by product name
}

type operator struct {
	Operator
	activationToken string
}

// store is the simulator state. It is not safe for concurrent use; Server
// guards it with a mutex.
type store struct {
	root      string
	seq       uint64
	accounts  map[string]*account
	operators map[string]*operator // by folded username
	// reserved maps a folded username to the id of the pending transaction
	// that will create it, so that racing creations of one username are
	// decided at POST time, atomically.
	reserved   map[string]string
	txs        map[string]*TransactionRecord
	txOrder    []string
	pending    []string // ids of unsettled transactions, oldest first
	outbox     []Email
	activation map[string]string // activation token -> folded username
	// rootInventory is the root's configured stock per product; shared
	// with the Server, never modified.
	rootInventory map[string]int
	// trialEnded maps accountID/product to the end of the cooldown after
	// a trial.
	trialEnded map[string]time.Time
	// nextTrialEnd is no later than the earliest ExpiresAt of any trial
	// allocation held (zero: none), so that a request before it need not
	// look at every account for trials to end (see noteTrial).
	nextTrialEnd time.Time
}

// noteTrial keeps nextTrialEnd no later than a's expiry; every allocation
// that holds an ExpiresAt goes through it.
func (s *store) noteTrial(a *Allocation) {
	if a.ExpiresAt != nil && (s.nextTrialEnd.IsZero() || a.ExpiresAt.Before(s.nextTrialEnd)) {
		s.nextTrialEnd = *a.ExpiresAt
	}
}

func newStore(root string, rootInventory map[string]int) *store {
	s := &store{
		root:          root,
		rootInventory: rootInventory,
		trialEnded:    make(map[string]time.Time),
		accounts:      make(map[string]*account),
		operators:     make(map[string]*operator),
		reserved:      make(map[string]string),
		txs:           make(map[string]*TransactionRecord),
		activation:    make(map[string]string),
	}
	s.addAccount(Account{ID: root, Type: TypeServiceProvider, Name: "Root"}, nil)
	return s
}

// foldUsername is the key usernames are unique under: the simulator treats
// "Alice" and "alice" as the same operator, as sign-in forms do.
func foldUsername(u string) string { return strings.ToLower(u) }

func (s *store) addAccount(a Account, parent *account) *account {
	s.seq++
	acc := &account{Account: a, seq: s.seq, byName: map[string][]string{}, ops: map[string]struct{}{}, allocs: map[string]*Allocation{}}
	if parent != nil {
		acc.depth = parent.depth + 1
		parent.children = append(parent.children, a.ID)
		parent.byName[a.Name] = append(parent.byName[a.Name], a.ID)
	}
	s.accounts[a.ID] = acc
	return acc
}

func (s *store) removeAccount(acc *account) {
	if parent := s.accounts[acc.ParentID]; parent != nil {
		parent.children = removeID(parent.children, acc.ID)
		if ids := removeID(parent.byName[acc.Name], acc.ID); len(ids) == 0 {
			delete(parent.byName, acc.Name)
		} else {
			parent.byName[acc.Name] = ids
		}
	}
	for u := range acc.ops {
		if op := s.operators[u]; op != nil {
			delete(s.activation, op.activationToken)
		}
		delete(s.operators, u)
	}
	for k := range s.trialEnded {
		if strings.HasPrefix(k, acc.ID+"/") {
			delete(s.trialEnded, k)
		}
	}
	delete(s.accounts, acc.ID)
}

// modifyAccount replaces an account's name and contact, keeping the
// parent's name index right.
func (s *store) modifyAccount(acc *account, name, first, last, email string) {
	if parent := s.accounts[acc.ParentID]; parent != nil && name != acc.Name {
		if ids := removeID(parent.byName[acc.Name], acc.ID); len(ids) == 0 {
			delete(parent.byName, acc.Name)
		} else {
			parent.byName[acc.Name] = ids
		}
		// Keep the index in creation order, as the children list is.
		ids := append(parent.byName[name], acc.ID)
		slices.SortFunc(ids, func(a, b string) int { return cmp.Compare(s.accounts[a].seq, s.accounts[b].seq) })
		parent.byName[name] = ids
	}
	acc.Name, acc.FirstName, acc.LastName, acc.Email = name, first, last, email
}

// subtree lists acc and its descendants, deepest first and acc last, so
// removing them in order never leaves an orphan.
func (s *store) subtree(acc *account) []*account {
	var out []*account
	for _, cid := range acc.children {
		out = append(out, s.subtree(s.accounts[cid])...)
	}
	return append(out, acc)
}

func removeID(ids []string, id string) []string {
	if i := slices.Index(ids, id); i >= 0 {
		return slices.Delete(ids, i, i+1)
	}
	return ids
}

// settleDue settles every pending transaction whose time has come. Because
// the delay is the same for all transactions (it can change at run time,
// so this is approximate), the queue is settled oldest first and stops at
// the first one not yet due.
func (s *store) settleDue(now time.Time) bool {
	changed := false
	for len(s.pending) > 0 {
		tx := s.txs[s.pending[0]]
		if tx != nil && now.Before(tx.SettleAt) {
			break
		}
		s.pending = s.pending[1:]
		if tx != nil {
			s.settle(tx, now)
			changed = true
		}
	}
	return changed
}

func (s *store) settle(tx *TransactionRecord, now time.Time) {
	key := foldUsername(tx.Username)
	if tx.DoomedCode != "" {
		tx.Status, tx.ErrorCode = "FAILED", tx.DoomedCode
		tx.Error = fmt.Sprintf("username %q is already taken", tx.Username)
		return
	}
	if s.reserved[key] == tx.ID {
		delete(s.reserved, key)
	}
	acc := s.accounts[tx.AccountID]
	if acc == nil {
		tx.Status, tx.ErrorCode = "FAILED", CodeAccountNotFound
		tx.Error = fmt.Sprintf("account %s was deleted before the operator could be created", tx.AccountID)
		return
	}
	op := &operator{Operator: tx.Operator}
	if to, ok := roleOnConversion[op.Role]; ok && acc.Type == TypeServiceProvider {
		// The account was converted while the transaction was pending.
		op.Role = to
	}
	op.activationToken = activationToken(tx)
	s.operators[key] = op
	acc.ops[key] = struct{}{}
	s.activation[op.activationToken] = key
	s.outbox = append(s.outbox, Email{
		To:       op.Email,
		Username: op.Username,
		Subject:  "Activate your account",
		Link:     tx.LinkBase + "/_sim/activate?token=" + op.activationToken,
		Token:    op.activationToken,
		SentAt:   now.UTC(),
	})
	tx.Status = "SUCCESS"
}

// activationToken derives the token from the transaction id, which is
// already unique and unguessable enough for a simulator, so that a replay
// from the same seed produces the same links.
func activationToken(tx *TransactionRecord) string {
	return "act-" + strings.TrimPrefix(tx.ID, "TX-")
}

// snapshot copies the state out.
func (s *store) snapshot() Snapshot {
	accs := slices.SortedFunc(maps.Values(s.accounts), func(a, b *account) int { return cmp.Compare(a.seq, b.seq) })
	snap := Snapshot{
		RootAccountID: s.root,
		Accounts:      make([]Account, 0, len(accs)),
		Operators:     make([]Operator, 0, len(s.operators)),
		Transactions:  make([]TransactionRecord, 0, len(s.txOrder)),
		Outbox:        slices.Clone(s.outbox),
	}
	snap.Allocations = []AccountAllocation{}
	snap.Inventory = []AccountInventory{}
	snap.RootInventory = maps.Clone(s.rootInventory)
	snap.TrialsEnded = []TrialEnd{}
	for _, a := range accs {
		snap.Accounts = append(snap.Accounts, a.Account)
		for _, al := range sortedAllocations(a) {
			snap.Allocations = append(snap.Allocations, AccountAllocation{AccountID: a.ID, Allocation: al})
		}
		if items := s.inventory(a); len(items) > 0 {
			snap.Inventory = append(snap.Inventory, AccountInventory{AccountID: a.ID, Items: items})
		}
	}
	for k, until := range s.trialEnded {
		id, product, _ := strings.Cut(k, "/")
		snap.TrialsEnded = append(snap.TrialsEnded, TrialEnd{AccountID: id, ProductName: product, Until: until})
	}
	sortTrialEnds(snap.TrialsEnded)
	for _, k := range slices.Sorted(maps.Keys(s.operators)) {
		snap.Operators = append(snap.Operators, s.operators[k].Operator)
	}
	for _, id := range s.txOrder {
		snap.Transactions = append(snap.Transactions, *s.txs[id])
	}
	if snap.Outbox == nil {
		snap.Outbox = []Email{}
	}
	return snap
}

// storeFromSnapshot rebuilds the state and its indexes from a snapshot.
func storeFromSnapshot(snap Snapshot, rootInventory map[string]int) (*store, error) {
	if snap.RootAccountID == "" {
		return nil, fmt.Errorf("snapshot has no rootAccountId")
	}
	s := &store{
		root:          snap.RootAccountID,
		rootInventory: rootInventory,
		trialEnded:    make(map[string]time.Time, len(snap.TrialsEnded)),
		accounts:      make(map[string]*account, len(snap.Accounts)),
		operators:     make(map[string]*operator, len(snap.Operators)),
		reserved:      make(map[string]string),
		txs:           make(map[string]*TransactionRecord, len(snap.Transactions)),
		activation:    make(map[string]string),
	}
	for _, a := range snap.Accounts {
		if _, dup := s.accounts[a.ID]; dup {
			return nil, fmt.Errorf("account %s appears twice", a.ID)
		}
		if a.ID == s.root {
			s.addAccount(a, nil)
			continue
		}
		parent := s.accounts[a.ParentID]
		if parent == nil {
			return nil, fmt.Errorf("account %s: parent %q not found before it", a.ID, a.ParentID)
		}
		s.addAccount(a, parent)
	}
	if s.accounts[s.root] == nil {
		return nil, fmt.Errorf("root account %s is not among the accounts", s.root)
	}
	for _, o := range snap.Operators {
		acc := s.accounts[o.AccountID]
		if acc == nil {
			return nil, fmt.Errorf("operator %s: account %s not found", o.Username, o.AccountID)
		}
		key := foldUsername(o.Username)
		s.operators[key] = &operator{Operator: o}
		acc.ops[key] = struct{}{}
	}
	for i := range snap.Transactions {
		tx := snap.Transactions[i]
		s.txs[tx.ID] = &tx
		s.txOrder = append(s.txOrder, tx.ID)
		if tx.Status == "PENDING" {
			s.pending = append(s.pending, tx.ID)
			if tx.DoomedCode == "" {
				s.reserved[foldUsername(tx.Username)] = tx.ID
			}
		}
	}
	for _, a := range snap.Allocations {
		acc := s.accounts[a.AccountID]
		switch {
		case acc == nil:
			return nil, fmt.Errorf("allocation of %s: account %s not found", a.ProductName, a.AccountID)
		case a.AccountID == s.root:
			return nil, fmt.Errorf("allocation of %s to the root account: its inventory is configured", a.ProductName)
		case !knownProduct(a.ProductName) || !knownAllocationType(a.AllocationType) || a.Quantity < 1:
			return nil, fmt.Errorf("allocation to %s: product %q, type %q, quantity %d is not valid", a.AccountID, a.ProductName, a.AllocationType, a.Quantity)
		case acc.allocs[a.ProductName] != nil:
			return nil, fmt.Errorf("account %s: product %s allocated twice", a.AccountID, a.ProductName)
		}
		al := a.clone()
		acc.allocs[a.ProductName] = &al
		s.noteTrial(&al)
	}
	for _, te := range snap.TrialsEnded {
		s.trialEnded[trialKey(te.AccountID, te.ProductName)] = te.Until
	}
	s.outbox = slices.Clone(snap.Outbox)
	for _, e := range s.outbox {
		if op := s.operators[foldUsername(e.Username)]; op != nil {
			op.activationToken = e.Token
			s.activation[e.Token] = foldUsername(e.Username)
		}
	}
	return s, nil
}

// WriteSnapshot writes snap as indented JSON.
func WriteSnapshot(w io.Writer, snap Snapshot) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(snap)
}

// ReadSnapshot reads a snapshot written by [WriteSnapshot].
func ReadSnapshot(r io.Reader) (Snapshot, error) {
	var snap Snapshot
	if err := json.NewDecoder(r).Decode(&snap); err != nil {
		return Snapshot{}, fmt.Errorf("decode simulator state: %w", err)
	}
	return snap, nil
}

// SaveFile writes the server's state to path atomically (a temporary file in
// the same directory, then a rename), so a crash mid-write never leaves a
// truncated state file.
func (srv *Server) SaveFile(path string) error {
	snap := srv.Snapshot()
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	defer os.Remove(f.Name()) // no-op after a successful rename
	if err := WriteSnapshot(f, snap); err != nil {
		f.Close()
		return fmt.Errorf("save state to %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("save state to %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	return nil
}

// LoadFile replaces the server's state with the one saved in path.
func (srv *Server) LoadFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("load state: %w", err)
	}
	defer f.Close()
	snap, err := ReadSnapshot(f)
	if err != nil {
		return fmt.Errorf("load state from %s: %w", path, err)
	}
	if err := srv.Restore(snap); err != nil {
		return fmt.Errorf("load state from %s: %w", path, err)
	}
	return nil
}
