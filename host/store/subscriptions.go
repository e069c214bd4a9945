package store

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// ErrSubscriptionNotFound is wrapped by [Store.GetSubscription] for a
// subscription never stored.
var ErrSubscriptionNotFound = errors.New("subscription record not found")

// SubscriptionEntry is one stored subscription record with the desired state
// sent with it.
type SubscriptionEntry struct {
	// Record is the plugin's last answer for the subscription (or the FAILED
	// record the host made of a definite failure).
	Record *provisioningv1.SubscriptionRecord
	// Subscription is the desired state as the caller last sent it; nil for
	// a record stored without one (e.g. by a Suspend, which names the
	// subscription by id only, before any desired state was stored).
	Subscription *provisioningv1.Subscription
}

// SubscriptionQuery selects subscription records for
// [Store.ListSubscriptions].
type SubscriptionQuery struct {
	// Plugin keeps only this plugin's records; empty for all.
	Plugin string
	// AccountID keeps only the subscriptions of this BSS account; empty for
	// all.
	AccountID string
	// Status keeps only records with this status; UNSPECIFIED for all.
	Status provisioningv1.SubscriptionStatus
	// PageSize is the maximum number of records returned: 0 means 100;
	// larger than 1000 means 1000.
	PageSize int
	// PageToken continues a previous ListSubscriptions with the same
	// filter; empty for the first page.
	PageToken string
}

// SubscriptionPage is one page of [Store.ListSubscriptions], ordered by
// plugin then subscription id.
type SubscriptionPage struct {
	Entries []SubscriptionEntry
	// NextPageToken continues the listing; empty on the last page.
	NextPageToken string
}

// AccountSubscriptions returns every stored subscription record of one
// account of plugin, ordered by subscription id: what the rules that span an
// account's orders (and DeleteAccount's HAS_SUBSCRIPTIONS) read.
func AccountSubscriptions(ctx context.Context, st Store, plugin, accountID string) ([]*provisioningv1.SubscriptionRecord, error) {
	var out []*provisioningv1.SubscriptionRecord
	q := SubscriptionQuery{Plugin: plugin, AccountID: accountID, PageSize: maxPageSize}
	for {
		p, err := st.ListSubscriptions(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, e := range p.Entries {
			out = append(out, e.Record)
		}
		if p.NextPageToken == "" {
			return out, nil
		}
		q.PageToken = p.NextPageToken
	}
}

func validateSubscription(rec *provisioningv1.SubscriptionRecord) error {
	if rec.GetPlugin() == "" || rec.GetSubscriptionId() == "" || rec.GetAccountId() == "" {
		return errors.New("store subscription record: plugin, subscription_id and account_id are required")
	}
	return nil
}

// Subscription page tokens are keyset cursors like those of List, bound to
// the whole filter (plugin, account, status) and marked "s1" so a sync-record
// token is refused here.
func encodeSubscriptionToken(q SubscriptionQuery, plugin, subscriptionID string) string {
	s := strings.Join([]string{"s1", q.Plugin, q.AccountID, fmt.Sprint(int32(q.Status)), plugin, subscriptionID}, "\x00")
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

func decodeSubscriptionToken(q SubscriptionQuery) (plugin, subscriptionID string, err error) {
	if q.PageToken == "" {
		return "", "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(q.PageToken)
	if err != nil {
		return "", "", ErrBadPageToken
	}
	parts := strings.Split(string(b), "\x00")
	if len(parts) != 6 || parts[0] != "s1" || parts[1] != q.Plugin || parts[2] != q.AccountID || parts[3] != fmt.Sprint(int32(q.Status)) {
		return "", "", ErrBadPageToken
	}
	return parts[4], parts[5], nil
}
