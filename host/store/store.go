package store

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// ErrNotFound is returned by [Store.Get] for an account never stored.
var ErrNotFound = errors.New("sync record not found")

// ErrDamaged is wrapped by a store whose database is corrupt, or was
// deleted or replaced under it: retrying cannot help, an operator must
// restore it. Once a store returns it, it returns it for every call.
var ErrDamaged = errors.New("sync-record database is damaged")

// ErrBadPageToken is wrapped by [Store.List] for a token it did not issue.
var ErrBadPageToken = errors.New("invalid page token")

// Default and maximum page sizes of [Store.List].
const (
	defaultPageSize = 100
	maxPageSize     = 1000
)

// Entry is one stored record with the account snapshot sent with it.
type Entry struct {
	// Record is the plugin's last answer for the account.
	Record *provisioningv1.SyncRecord
	// Account is the account as the caller sent it then; may be nil.
	Account *provisioningv1.Account
}

// Query selects records for [Store.List].
type Query struct {
	// Plugin keeps only this plugin's records; empty for all.
	Plugin string
	// Status keeps only records with this status; UNSPECIFIED for all.
	Status provisioningv1.SyncStatus
	// PageSize is the maximum number of records returned: 0 means
	// 100; larger than 1000 means 1000.
	PageSize int
	// PageToken continues a previous List; empty for the first page.
	PageToken string
}

// Page is one page of [Store.List], ordered by plugin then account id.
type Page struct {
	Entries []Entry
	// NextPageToken continues the listing; empty on the last page.
	NextPageToken string
}

// Store keeps sync records. Implementations are safe for concurrent use.
type Store interface {
	// Put stores rec (keyed by rec.Plugin and rec.AccountId, both required)
	// and the account snapshot, replacing what was stored. It returns only
	// once the write is durable. acct may be nil to keep the stored
	// snapshot. No two live (not DELETED) records of one plugin hold the
	// same remote_id: Put refuses such a record with a
	// [*RemoteIDTakenError] and writes nothing. A record that settles the
	// account's attempt ([SettlesAttempt]: it has a remote_id, or is
	// DELETED) deletes the attempt marker of (rec.Plugin, rec.AccountId) in
	// the same transaction (see [Store.BeginAttempt]).
	Put(ctx context.Context, rec *provisioningv1.SyncRecord, acct *provisioningv1.Account) error
	// Get returns the stored entry, or an error wrapping [ErrNotFound].
	Get(ctx context.Context, plugin, accountID string) (Entry, error)
	// List pages through stored entries. A token from another query, or
	// not issued by this store, is an error wrapping [ErrBadPageToken].
	List(ctx context.Context, q Query) (Page, error)
	// Close releases the store.
	Close() error

	// PutSubscription stores rec (keyed by rec.Plugin and
	// rec.SubscriptionId; rec.AccountId is required too, for listing by
	// account) and the desired-state snapshot sub, replacing what was
	// stored. It returns only once the write is durable. sub may be nil to
	// keep the stored snapshot.
	PutSubscription(ctx context.Context, rec *provisioningv1.SubscriptionRecord, sub *provisioningv1.Subscription) error
	// GetSubscription returns the stored subscription entry, or an error
	// wrapping [ErrSubscriptionNotFound].
	GetSubscription(ctx context.Context, plugin, subscriptionID string) (SubscriptionEntry, error)
	// ListSubscriptions pages through stored subscription entries, ordered
	// by plugin then subscription id. A token from another query, or not
	// issued by this store, is an error wrapping [ErrBadPageToken].
	ListSubscriptions(ctx context.Context, q SubscriptionQuery) (SubscriptionPage, error)

	// BeginAttempt durably writes the attempt marker of (plugin,
	// accountID) before a Synchronize whose remote objects the stored
	// record cannot name ([NeedsAttempt]), and reports whether a marker was
	// there already: an earlier such call never had its answer stored. It
	// returns only once the marker is durable. The marker goes when Put
	// stores a record that settles the attempt, nothing else deletes it.
	BeginAttempt(ctx context.Context, plugin, accountID string) (existed bool, err error)
}

// maxDepth bounds the ancestor walk, so a corrupt parent chain (a cycle in
// stored snapshots) cannot loop.
const maxDepth = 32

// Ancestors builds the ancestors of acct from the store, nearest parent
// first: each parent's stored account snapshot and record. When a parent was
// never stored, its ancestor carries only its id and no record (so the plugin
// can say the parent is not synchronized) and the walk stops there.
func Ancestors(ctx context.Context, st Store, plugin string, acct *provisioningv1.Account) ([]*provisioningv1.Ancestor, error) {
	var out []*provisioningv1.Ancestor
	seen := map[string]bool{acct.GetId(): true}
	pid := acct.GetParentId()
	for pid != "" && len(out) < maxDepth && !seen[pid] {
		seen[pid] = true
		e, err := st.Get(ctx, plugin, pid)
		if errors.Is(err, ErrNotFound) {
			out = append(out, &provisioningv1.Ancestor{Account: &provisioningv1.Account{Id: pid}})
			break
		}
		if err != nil {
			return nil, err
		}
		a := e.Account
		if a == nil {
			a = &provisioningv1.Account{Id: pid}
		}
		out = append(out, &provisioningv1.Ancestor{Account: a, Record: e.Record})
		pid = a.GetParentId()
	}
	return out, nil
}

func validate(rec *provisioningv1.SyncRecord) error {
	if rec.GetPlugin() == "" || rec.GetAccountId() == "" {
		return errors.New("store sync record: plugin and account_id are required")
	}
	return nil
}

func pageSize(n int) int {
	switch {
	case n <= 0:
		return defaultPageSize
	case n > maxPageSize:
		return maxPageSize
	}
	return n
}

// Page tokens are keyset cursors: the query's filter and the last key
// returned, so a token cannot be replayed against another filter.
func encodeToken(q Query, plugin, accountID string) string {
	s := strings.Join([]string{"v1", q.Plugin, fmt.Sprint(int32(q.Status)), plugin, accountID}, "\x00")
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

func decodeToken(q Query) (plugin, accountID string, err error) {
	if q.PageToken == "" {
		return "", "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(q.PageToken)
	if err != nil {
		return "", "", ErrBadPageToken
	}
	parts := strings.Split(string(b), "\x00")
	if len(parts) != 5 || parts[0] != "v1" || parts[1] != q.Plugin || parts[2] != fmt.Sprint(int32(q.Status)) {
		return "", "", ErrBadPageToken
	}
	return parts[3], parts[4], nil
}
