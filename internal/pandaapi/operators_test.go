package pandaapi_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudbss/provisioning/internal/pandaapi"
	"github.com/cloudbss/provisioning/internal/pandasim"
)

func simState(t testing.TB, url string) pandasim.Snapshot {
	t.Helper()
	resp, err := http.Get(url + "/_sim/state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s pandasim.Snapshot
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func await(t testing.TB, c pandaapi.API, tx *pandaapi.Transaction) *pandaapi.Transaction {
	t.Helper()
	got, err := pandaapi.AwaitTransaction(ctxT(t), c, tx.ID, 5*time.Millisecond)
	if err != nil {
		t.Fatalf("AwaitTransaction(%s): %v", tx.ID, err)
	}
	return got
}

func TestCreateOperatorRules(t *testing.T) {
	t.Parallel()
	_, url := newSim(t)
	c := newClient(t, url)
	sp := mustCreate(t, c, root, pandaapi.AccountTypeServiceProvider, "reseller")
	sub := mustCreate(t, c, sp.ID, pandaapi.AccountTypeSubscriber, "user")

	op := func(username, account string, role pandaapi.OperatorRole) pandaapi.CreateOperatorRequest {
		return pandaapi.CreateOperatorRequest{Username: username, AccountID: account, FirstName: "F", LastName: "L", Email: "op@example.com", Role: role}
	}
	tests := map[string]struct {
		req      pandaapi.CreateOperatorRequest
		wantKind string
		wantCode string
	}{
		"owner of a provider":         {req: op("owner.one", sp.ID, pandaapi.RoleOwner)},
		"administrator of subscriber": {req: op("admin_1+x", sub.ID, pandaapi.RoleAdministrator)},
		"shortest username":           {req: op("abcde", sub.ID, pandaapi.RoleAnalyst)},
		"longest username":            {req: op(strings.Repeat("a", 65), sub.ID, pandaapi.RoleObserver)},
		"too short":                   {req: op("abcd", sub.ID, pandaapi.RoleObserver), wantKind: "invalid request", wantCode: pandasim.CodeInvalidUsername},
		"too long":                    {req: op(strings.Repeat("a", 66), sub.ID, pandaapi.RoleObserver), wantKind: "invalid request", wantCode: pandasim.CodeInvalidUsername},
		"space":                       {req: op("bad name", sub.ID, pandaapi.RoleObserver), wantKind: "invalid request", wantCode: pandasim.CodeInvalidUsername},
		"at sign":                     {req: op("bad@name", sub.ID, pandaapi.RoleObserver), wantKind: "invalid request", wantCode: pandasim.CodeInvalidUsername},
		"non-ascii":                   {req: op("bädname", sub.ID, pandaapi.RoleObserver), wantKind: "invalid request", wantCode: pandasim.CodeInvalidUsername},
		"owner of a subscriber":       {req: op("role.one", sub.ID, pandaapi.RoleOwner), wantKind: "invalid request", wantCode: pandasim.CodeInvalidRole},
		"administrator of provider":   {req: op("role.two", sp.ID, pandaapi.RoleAdministrator), wantKind: "invalid request", wantCode: pandasim.CodeInvalidRole},
		"no role":                     {req: op("role.three", sp.ID, ""), wantKind: "invalid request", wantCode: pandasim.CodeInvalidRole},
		"unknown account":             {req: op("ghost.one", "ACC-0000002", pandaapi.RoleOwner), wantKind: "not found"},
		"bad email":                   {req: pandaapi.CreateOperatorRequest{Username: "mail.one", AccountID: sp.ID, Email: "x", Role: pandaapi.RoleOwner}, wantKind: "invalid request"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tx, err := c.CreateOperator(ctxT(t), tc.req)
			if diff := cmp.Diff(tc.wantKind, kindOf(err)); diff != "" {
				t.Fatalf("error kind (-want +got):\n%s", diff)
			}
			if err != nil {
				var pe *pandaapi.Error
				if errors.As(err, &pe); tc.wantCode != "" && pe.Code != tc.wantCode {
					t.Errorf("code = %q, want %q", pe.Code, tc.wantCode)
				}
				return
			}
			if tx.Status != pandaapi.TransactionPending || tx.ID == "" {
				t.Fatalf("POST answered %+v; want a PENDING transaction", tx)
			}
			done := await(t, c, tx)
			if done.Status != pandaapi.TransactionSuccess {
				t.Fatalf("transaction = %+v, want SUCCESS", done)
			}
			got, err := c.GetOperator(ctxT(t), tc.req.Username)
			if err != nil {
				t.Fatal(err)
			}
			want := pandaapi.Operator{Username: tc.req.Username, AccountID: tc.req.AccountID, FirstName: "F", LastName: "L", Email: "op@example.com", Role: tc.req.Role}
			if diff := cmp.Diff(want, *got); diff != "" {
				t.Errorf("operator (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOperatorLifecycle(t *testing.T) {
	t.Parallel()
	// The simulator's clock stands still until the test moves it, so the
	// transaction is still pending "right away" however slow the machine.
	base := time.Now()
	var elapsed atomic.Int64
	settle := func() { elapsed.Add(int64(time.Second)) }
	sim, url := newSim(t, pandasim.WithTxDelay(50*time.Millisecond),
		pandasim.WithClock(func() time.Time { return base.Add(time.Duration(elapsed.Load())) }))
	c := newClient(t, url)
	ctx := ctxT(t)
	sub := mustCreate(t, c, root, pandaapi.AccountTypeSubscriber, "acme")

	tx, err := c.CreateOperator(ctx, pandaapi.CreateOperatorRequest{Username: "Alice.Admin", AccountID: sub.ID, Email: "alice@acme.example", Role: pandaapi.RoleAdministrator})
	if err != nil {
		t.Fatal(err)
	}
	// With a delay the transaction is still pending and the operator not
	// there yet.
	if now, err := c.GetTransaction(ctx, tx.ID); err != nil || now.Status != pandaapi.TransactionPending {
		t.Fatalf("GetTransaction right away = %+v, %v; want PENDING", now, err)
	}
	if _, err := c.GetOperator(ctx, "Alice.Admin"); !errors.Is(err, pandaapi.ErrNotFound) {
		t.Fatalf("operator visible before SUCCESS: %v", err)
	}
	settle()
	if done := await(t, c, tx); done.Status != pandaapi.TransactionSuccess {
		t.Fatalf("transaction = %+v", done)
	}

	// Usernames are unique case-insensitively; the duplicate fails the
	// transaction, not the POST.
	dup, err := c.CreateOperator(ctx, pandaapi.CreateOperatorRequest{Username: "alice.admin", AccountID: sub.ID, Email: "a2@acme.example", Role: pandaapi.RoleAnalyst})
	if err != nil {
		t.Fatalf("duplicate POST: %v (want PENDING, then FAILED)", err)
	}
	settle()
	got := await(t, c, dup)
	if got.Status != pandaapi.TransactionFailed || got.ErrorCode != pandaapi.TxErrUsernameTaken || !strings.Contains(got.Error, "taken") {
		t.Errorf("duplicate transaction = %+v; want FAILED USERNAME_TAKEN", got)
	}

	ops, err := c.ListOperators(ctx, sub.ID)
	if err != nil || len(ops) != 1 || ops[0].Username != "Alice.Admin" || ops[0].Activated {
		t.Fatalf("ListOperators = %+v, %v", ops, err)
	}
	if _, err := c.ListOperators(ctx, "ACC-0000002"); !errors.Is(err, pandaapi.ErrNotFound) {
		t.Errorf("ListOperators(unknown) = %v", err)
	}
	if _, err := c.GetTransaction(ctx, "TX-nope"); !errors.Is(err, pandaapi.ErrNotFound) {
		t.Errorf("GetTransaction(unknown) = %v", err)
	}

	// The activation email is in the outbox; following its link activates.
	state := sim.Snapshot()
	if len(state.Outbox) != 1 {
		t.Fatalf("outbox = %+v, want one email", state.Outbox)
	}
	mail := state.Outbox[0]
	if mail.To != "alice@acme.example" || mail.Username != "Alice.Admin" || !strings.HasPrefix(mail.Link, url+"/_sim/activate?token=") {
		t.Errorf("email = %+v", mail)
	}
	resp, err := http.Post(mail.Link, "", nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("clicking the link: %v %v", resp, err)
	}
	resp.Body.Close()
	if op, err := c.GetOperator(ctx, "alice.admin"); err != nil || !op.Activated {
		t.Errorf("after activation: %+v, %v", op, err)
	}

	// Deleting the account deletes its operator and frees the username.
	if err := c.DeleteAccount(ctx, sub.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetOperator(ctx, "Alice.Admin"); !errors.Is(err, pandaapi.ErrNotFound) {
		t.Errorf("operator survived its account: %v", err)
	}
}

// Fifty goroutines race to create one username: exactly one transaction
// succeeds, the others fail with USERNAME_TAKEN, and one operator exists.
func TestDuplicateUsernameRace(t *testing.T) {
	t.Parallel()
	sim, url := newSim(t)
	c := newClient(t, url)
	sub := mustCreate(t, c, root, pandaapi.AccountTypeSubscriber, "racers")

	const n = 50
	var wg sync.WaitGroup
	results := make(chan *pandaapi.Transaction, n)
	for i := range n {
		wg.Go(func() {
			tx, err := c.CreateOperator(ctxT(t), pandaapi.CreateOperatorRequest{Username: "same.name", AccountID: sub.ID, Email: "racer@example.com", Role: pandaapi.RoleAdministrator, FirstName: string(rune('A' + i%26))})
			if err != nil {
				t.Error(err)
				return
			}
			results <- await(t, c, tx)
		})
	}
	wg.Wait()
	close(results)
	count := map[pandaapi.TransactionStatus]int{}
	for tx := range results {
		count[tx.Status]++
		if tx.Status == pandaapi.TransactionFailed && tx.ErrorCode != pandaapi.TxErrUsernameTaken {
			t.Errorf("failed for another reason: %+v", tx)
		}
	}
	if diff := cmp.Diff(map[pandaapi.TransactionStatus]int{pandaapi.TransactionSuccess: 1, pandaapi.TransactionFailed: n - 1}, count); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	if ops := sim.Snapshot().Operators; len(ops) != 1 {
		t.Errorf("operators = %+v, want exactly one", ops)
	}
}
