package panda

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/cloudbss/provisioning/plugin/diag"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// ownedOperator is an operator found in Panda that belongs to the subject.
type ownedOperator struct {
	op      *Operator
	account *RemoteAccount // nil when known from the record alone
}

// usernameLookup asks Panda who holds a username, on behalf of one subject
// whose Panda parent and role are resolved. The rules use it to check and
// suggest a username; Synchronize uses a fresh one to find the next free
// variant when a suggestion was taken meanwhile.
type usernameLookup struct {
	api          Remote
	account      *provisioningv1.Account
	bound        *provisioningv1.SyncRecord // see evaluation.bound
	remoteParent string                     // "" when the parent is not usable
	role         string
	accounts     map[string]*RemoteAccount // GetAccount answers, by id
}

// lookup asks Panda who holds username u. Free: nobody. Ours (owner set):
// the record's own account, or an account under the expected parent that
// matches this BSS account (prior work of an attempt whose answer was lost).
// Taken: anybody else.
func (l *usernameLookup) lookup(ctx context.Context, u string) (*ownedOperator, bool, error) {
	op, err := l.api.GetOperator(ctx, u)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, false, nil
	case err != nil:
		return nil, false, remoteError(ctx, "checking whether username "+strconv.Quote(u)+" is free", err)
	}
	if b := l.bound; b != nil && op.AccountID == b.GetRemoteId() {
		return &ownedOperator{op: op}, false, nil
	}
	if l.remoteParent == "" || l.role == "" {
		return nil, true, nil
	}
	acc, ok := l.accounts[op.AccountID]
	if !ok {
		acc, err = l.api.GetAccount(ctx, op.AccountID)
		switch {
		case errors.Is(err, ErrNotFound):
			acc = nil
		case err != nil:
			return nil, false, remoteError(ctx, "reading the Panda account that holds username "+strconv.Quote(u), err)
		}
		if l.accounts == nil {
			l.accounts = map[string]*RemoteAccount{}
		}
		l.accounts[op.AccountID] = acc
	}
	if acc != nil && matchesSubject(acc, l.account, l.remoteParent, l.role) {
		return &ownedOperator{op: op, account: acc}, false, nil
	}
	return nil, true, nil
}

// firstFree returns the first variant of base from variant from on that is
// free (or already ours), "" when maxVariants are all taken. One request
// per variant tried: a free base costs exactly one.
func (l *usernameLookup) firstFree(ctx context.Context, base string, from int) (string, int, *ownedOperator, error) {
	for n := max(from, 1); n <= maxVariants; n++ {
		u := usernameVariant(base, n)
		owner, taken, err := l.lookup(ctx, u)
		if err != nil {
			return "", 0, nil, err
		}
		if !taken {
			return u, n, owner, nil
		}
	}
	return "", 0, nil, nil
}

// matchesSubject reports whether a Panda account is the one this adapter
// would create for acc: same parent, type, company name and email. Panda
// keeps no BSS id, so this is how an earlier attempt's work is recognized.
func matchesSubject(pa *RemoteAccount, acc *provisioningv1.Account, remoteParent, role string) bool {
	return pa.ParentID == remoteParent &&
		pa.Type == accountTypeFor(role) &&
		pa.Name == strings.TrimSpace(acc.GetName()) &&
		strings.EqualFold(pa.Email, acc.GetCorporateEmail())
}

// names is the lookup for this evaluation; the parent and the role must be
// resolved first.
func (e *evaluator) names() *usernameLookup {
	if e.lookup == nil {
		e.lookup = &usernameLookup{api: e.st.api, account: e.s.account, bound: e.ev.bound, remoteParent: e.ev.remoteParent, role: e.ev.role}
	}
	return e.lookup
}

// checkFree adds USERNAME_TAKEN when u belongs to another Panda account.
func (e *evaluator) checkFree(ctx context.Context, u string) error {
	owner, taken, err := e.names().lookup(ctx, u)
	if err != nil {
		return err
	}
	if taken {
		e.add(usernameTaken(u))
		return nil
	}
	e.ev.owner = owner
	return nil
}

func usernameTaken(u string) *provisioningv1.Diagnostic {
	return diag.Error(FieldUsername, diag.CodeUsernameTaken, "username "+strconv.Quote(u)+" is taken in Panda",
		"Usernames are unique across Panda; choose another.")
}

// suggest fills username with the first free variant of the suggestion.
func (e *evaluator) suggest(ctx context.Context) error {
	ev := e.ev
	ev.suggestion = suggestUsername(e.s.account)
	ev.suggested = true
	if e.p == forSynchronize && diag.HasErrors(ev.diags) {
		ev.username, ev.variant = ev.suggestion, 1
		return nil
	}
	u, n, owner, err := e.names().firstFree(ctx, ev.suggestion, 1)
	if err != nil {
		return err
	}
	if u == "" {
		ev.username, ev.variant = ev.suggestion, 1
		e.add(diag.Error(FieldUsername, diag.CodeUsernameTaken,
			fmt.Sprintf("no free username from %q to %q", ev.suggestion, usernameVariant(ev.suggestion, maxVariants)),
			"Enter a username: usernames are unique across Panda."))
		return nil
	}
	ev.username, ev.variant, ev.owner = u, n, owner
	return nil
}
