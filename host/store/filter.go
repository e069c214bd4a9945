package store

import (
	"fmt"
	"strings"

	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// filter builds a WHERE clause of only the conditions a query sets, so the
// planner sees plain equalities and ranges it can serve from an index (a
// condition that also holds when its parameter is empty, "account_id = ?
// or the parameter is empty", can use none: SQLite then scans the whole
// table for every page). Conditions are written with ?
// marks; numbered filters (PostgreSQL) turn them into $1, $2, ...
type filter struct {
	numbered bool
	conds    []string
	args     []any
}

// add appends cond, whose ? marks take args in order.
func (f *filter) add(cond string, args ...any) {
	for _, a := range args {
		f.args = append(f.args, a)
		if f.numbered {
			cond = strings.Replace(cond, "?", fmt.Sprintf("$%d", len(f.args)), 1)
		}
	}
	f.conds = append(f.conds, cond)
}

func (f *filter) where() string {
	if len(f.conds) == 0 {
		return ""
	}
	return "WHERE " + strings.Join(f.conds, " AND ")
}

// recordsFilter is the WHERE of a sync-record listing q, after the keyset
// (afterPlugin, afterAccount), for either store.
func recordsFilter(q Query, afterPlugin, afterAccount string, numbered bool) filter {
	f := filter{numbered: numbered}
	if q.Plugin != "" {
		f.add("plugin = ?", q.Plugin)
	}
	if q.Status != provisioningv1.SyncStatus_SYNC_STATUS_UNSPECIFIED {
		f.add("status = ?", int32(q.Status))
	}
	if q.PageToken != "" {
		f.add("(plugin, account_id) > (?, ?)", afterPlugin, afterAccount)
	}
	return f
}

// subscriptionsFilter is the WHERE of a subscription-record listing q,
// after the keyset (afterPlugin, afterID), for either store.
func subscriptionsFilter(q SubscriptionQuery, afterPlugin, afterID string, numbered bool) filter {
	f := filter{numbered: numbered}
	if q.Plugin != "" {
		f.add("plugin = ?", q.Plugin)
	}
	if q.AccountID != "" {
		f.add("account_id = ?", q.AccountID)
	}
	if q.Status != provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_UNSPECIFIED {
		f.add("status = ?", int32(q.Status))
	}
	if q.PageToken != "" {
		f.add("(plugin, subscription_id) > (?, ?)", afterPlugin, afterID)
	}
	return f
}
