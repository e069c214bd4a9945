package panda

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cloudbss/provisioning/plugin/diag"
)

// lookAlikeKey identifies the look-alikes of an account: parent, type,
// company name and email. Creates of one key are serialized in the process
// (Adapter.createLocks).
func lookAlikeKey(parent string, t AccountType, name, email string) string {
	return parent + "\x00" + t.String() + "\x00" + name + "\x00" + strings.ToLower(email)
}

// settleIntent resolves the journal's intent of accountID, a create whose
// outcome this adapter never learned: the process that sent it died (the
// file kept the intent), or the intent is older than this process. It runs
// before the call reads anything, so that the rules see the account as
// accountID's own when it is.
//
// The account the create made is adopted only when it is provably it: the
// single look-alike (same parent, type, name and email as the intent) that
// did not exist before the create (not in the intent's before-set), is not
// the journal's for another account, existed before any later intent of
// the same look-alikes was written (that intent's before-set has it: the
// create was sent first), and has no operator or only the operator the
// intent's account asked for. None: the create did not happen, and the
// intent ends. Several: not provable, UNAVAILABLE and nothing adopted.
func (a *Adapter) settleIntent(ctx context.Context, st *configured, accountID string) error {
	e, ok := a.journal.get(accountID)
	if !ok || e.intent == nil || e.remoteID != "" {
		return nil
	}
	in := e.intent
	key := lookAlikeKey(in.Parent, in.Type, in.Name, in.Email)
	lk, err := a.createLocks.lock(ctx, key)
	if err != nil {
		return contextError(ctx, "waiting for another create of a look-alike account")
	}
	defer a.createLocks.unlock(key, lk)

	later := a.journal.laterIntents(accountID, key, in.At)
	var found []string
	const limit = 100
	for offset := 0; offset < 10*limit; offset += limit {
		page, err := st.api.ListChildren(ctx, in.Parent, ListChildrenOptions{Name: in.Name, Type: in.Type, Offset: offset, Limit: limit})
		switch {
		case errors.Is(err, ErrNotFound):
			// The parent is gone, and with it whatever the create made.
			a.journal.forget(accountID)
			return nil
		case err != nil:
			return remoteError(ctx, "listing the accounts under "+in.Parent, err)
		}
		for i := range page.Accounts {
			pa := &page.Accounts[i]
			if pa.ParentID != in.Parent || pa.Type != in.Type || pa.Name != in.Name || !strings.EqualFold(pa.Email, in.Email) ||
				slices.Contains(in.Before, pa.ID) || a.journal.claimedByOther(accountID, pa.ID) {
				continue
			}
			if !inEvery(later, pa.ID) {
				continue
			}
			mine, err := a.onlyOperator(ctx, st, pa.ID, in.Username)
			if err != nil {
				return err
			}
			if mine {
				found = append(found, pa.ID)
			}
		}
		if offset+len(page.Accounts) >= page.Total || len(page.Accounts) == 0 {
			break
		}
	}
	switch len(found) {
	case 0:
		a.logger.Info("the create of an earlier process made no account", "account_id", accountID, "remote_parent_id", in.Parent)
		a.journal.forget(accountID)
		return nil
	case 1:
		a.logger.Info("found the account an earlier process created", "account_id", accountID, "remote_id", found[0])
		a.journal.created(accountID, found[0])
		return nil
	}
	return diag.Unavailable(diag.CodeRemoteUnavailable, fmt.Sprintf(
		"an earlier create of this account's Panda account lost its answer and %d new look-alike accounts appeared under %s since; which is this account's cannot be told: retry",
		len(found), in.Parent), time.Second)
}

// onlyOperator reports whether Panda account id has no operator or only
// operators named username; false when the account is gone.
func (a *Adapter) onlyOperator(ctx context.Context, st *configured, id, username string) (bool, error) {
	ops, err := st.api.ListOperators(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound):
		return false, nil
	case err != nil:
		return false, remoteError(ctx, "listing the operators of Panda account "+id, err)
	}
	for _, op := range ops {
		if username == "" || !strings.EqualFold(op.Username, username) {
			return false, nil
		}
	}
	return true, nil
}

// inEvery reports whether id is in every set.
func inEvery(sets [][]string, id string) bool {
	for _, s := range sets {
		if !slices.Contains(s, id) {
			return false
		}
	}
	return true
}
