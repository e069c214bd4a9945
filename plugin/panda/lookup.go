package panda

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/cloudbss/provisioning/plugin/diag"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// ownedOperator is an operator found in Panda that belongs to the subject.
type ownedOperator struct {
	op      *Operator
	account *RemoteAccount // nil until read
}

// usernameLookup asks Panda who holds a username, on behalf of one subject.
// The rules use it to check and suggest a username; Synchronize uses a
// fresh one to find the next free variant when a suggestion was taken
// meanwhile.
type usernameLookup struct {
	api Remote
	// own are the Panda accounts provably the subject's (see
	// ownRemoteIDs): an operator on one of them is the subject's.
	own []string
}

// lookup asks Panda who holds username u. Free: nobody. Ours (owner set):
// an operator on one of the subject's own Panda accounts (the record's, or
// the one this process created for it). Taken: anybody else, even an
// account with the subject's parent, type, company name and email: two BSS
// accounts may share all of them, and adopting by resemblance bound them
// to one Panda account.
func (l *usernameLookup) lookup(ctx context.Context, u string) (*ownedOperator, bool, error) {
	op, err := l.api.GetOperator(ctx, u)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, false, nil
	case err != nil:
		return nil, false, remoteError(ctx, "checking whether username "+strconv.Quote(u)+" is free", err)
	}
	if slices.Contains(l.own, op.AccountID) {
		return &ownedOperator{op: op}, false, nil
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

// matchesSubject reports whether a Panda account looks like the one this
// adapter would create for acc: same parent, type, company name and email.
// Panda keeps no BSS id, so this is never proof of ownership: it only
// narrows the search for an account whose create answer was lost (see
// syncRun.recoverCreate).
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
		e.lookup = &usernameLookup{api: e.st.api, own: e.ev.own}
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
	if e.p == forSynchronize && (diag.HasErrors(ev.diags) || !e.precheckUsername()) {
		// A taken suggestion moves on to the next free variant when the
		// operator transaction says so (syncRun.createOperator).
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
