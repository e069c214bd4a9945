package panda

import (
	"context"
	"errors"
	"strings"

	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// adoptUnfinished looks, for a call whose request says an earlier attempt
// of this account never had its answer stored (unfinished_attempt), for
// the Panda account that attempt created: it may have run in another
// process (another daemon's plugin, whose journal this one cannot read).
// Without that flag a look-alike (same parent, type, company name and
// email) is never adopted: two BSS accounts may share all of them. With
// it, among the look-alikes under the parent that the journal does not
// give to another account, one is adopted only when it is provably the
// attempt's:
//
//   - exactly one holds an operator with the username this call will use
//     (case-insensitive; with auto_fill, any variant of the suggestion):
//     usernames are unique across Panda, and the earlier attempt asked for
//     that one;
//   - or none holds it and exactly one has no operator at all: the attempt
//     died between the account and its operator. Two operator-less
//     look-alikes (two attempts of alike accounts died, or another alike
//     account is between its two creates right now) cannot be told apart,
//     so neither is adopted.
//
// Anything else adopts nothing and the call goes on as without the flag
// (it creates, or answers that the username is taken). The adopted account
// is noted in the journal as created for this account, so the evaluation
// that follows finds its operator (a replay) or reuses it for the operator
// create. The host's rule that one live record holds a remote id keeps an
// adoption from binding one Panda account to two BSS accounts. Returns the
// adopted account's id, "" for none. Costs one ListChildren page and one
// ListOperators per look-alike, only on flagged calls.
func (a *Adapter) adoptUnfinished(ctx context.Context, st *configured, acc *provisioningv1.Account, ev *evaluation) (string, error) {
	typ := accountTypeFor(ev.role)
	name := strings.TrimSpace(acc.GetName())
	key := lookAlikeKey(ev.remoteParent, typ, name, acc.GetCorporateEmail())
	lk, err := a.createLocks.lock(ctx, key)
	if err != nil {
		return "", contextError(ctx, "waiting for another create of a look-alike account")
	}
	defer a.createLocks.unlock(key, lk)

	usernames := []string{ev.username}
	if ev.suggested {
		usernames = usernames[:0]
		for n := 1; n <= maxVariants; n++ {
			usernames = append(usernames, usernameVariant(ev.suggestion, n))
		}
	}
	var holders, empty []string
	const limit = 100
	for offset := 0; offset < 10*limit; offset += limit {
		page, err := st.api.ListChildren(ctx, ev.remoteParent, ListChildrenOptions{Name: name, Type: typ, Offset: offset, Limit: limit})
		switch {
		case errors.Is(err, ErrNotFound):
			return "", nil // the parent is gone: the evaluation's problem, not ours
		case err != nil:
			return "", remoteError(ctx, "listing the accounts under "+ev.remoteParent, err)
		}
		for i := range page.Accounts {
			pa := &page.Accounts[i]
			if !matchesSubject(pa, acc, ev.remoteParent, ev.role) || a.journal.claimedByOther(acc.GetId(), pa.ID) {
				continue
			}
			ops, err := st.api.ListOperators(ctx, pa.ID)
			switch {
			case errors.Is(err, ErrNotFound):
				continue
			case err != nil:
				return "", remoteError(ctx, "listing the operators of Panda account "+pa.ID, err)
			}
			if len(ops) == 0 {
				empty = append(empty, pa.ID)
				continue
			}
			if holdsAny(ops, usernames) {
				holders = append(holders, pa.ID)
			}
		}
		if offset+len(page.Accounts) >= page.Total || len(page.Accounts) == 0 {
			break
		}
	}
	var id string
	switch {
	case len(holders) == 1:
		id = holders[0]
	case len(holders) == 0 && len(empty) == 1:
		id = empty[0]
	default:
		a.logger.Info("an earlier attempt's Panda account cannot be told from its look-alikes; not adopted",
			"account_id", acc.GetId(), "remote_parent_id", ev.remoteParent, "holders", len(holders), "without_operator", len(empty))
		return "", nil
	}
	a.logger.Info("adopted the Panda account of an unfinished attempt", "account_id", acc.GetId(), "remote_id", id)
	a.journal.created(acc.GetId(), id)
	return id, nil
}

// holdsAny reports whether one of ops has one of usernames (case-insensitive).
func holdsAny(ops []Operator, usernames []string) bool {
	for _, op := range ops {
		for _, u := range usernames {
			if strings.EqualFold(op.Username, u) {
				return true
			}
		}
	}
	return false
}
