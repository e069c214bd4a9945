package store

import (
	"context"
	"strings"
	"testing"

	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// TestSQLiteAccountSubscriptionsUseTheIndex: the orders of one account are
// read through subscription_records_account, not by scanning every order
// (with a condition that also held for an empty parameter, SQLite scanned
// the table: every order placed read all the others, quadratic in the
// store's size).
func TestSQLiteAccountSubscriptionsUseTheIndex(t *testing.T) {
	t.Parallel()
	st := openSQLiteForTest(t)
	tests := map[string]struct {
		q    SubscriptionQuery
		want string
	}{
		"one account's orders":    {SubscriptionQuery{Plugin: "panda", AccountID: "C-1"}, "subscription_records_account"},
		"one account's next page": {SubscriptionQuery{Plugin: "panda", AccountID: "C-1", PageToken: "x"}, "subscription_records_account"},
		"by status":               {SubscriptionQuery{Plugin: "panda", Status: provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE}, "subscription_records_status"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			query, args := listSubscriptionsQuery(tc.q, "panda", "S-1", 101)
			rows, err := st.db.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+query, args...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, notused int
				var detail string
				if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			got := strings.Join(plan, "; ")
			if !strings.Contains(got, "USING INDEX "+tc.want) || strings.Contains(got, "SCAN subscription_records") && !strings.Contains(got, "USING INDEX") {
				t.Errorf("plan %q, want a search using %s", got, tc.want)
			}
		})
	}
}
