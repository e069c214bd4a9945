package ledger_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// tableDump reads the ledger file's tables as text: the "remote state" the
// conformance suite compares before and after calls that must not write.
func tableDump(path string) func(context.Context) ([]byte, error) {
	return func(ctx context.Context) ([]byte, error) {
		db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
		if err != nil {
			return nil, err
		}
		defer db.Close()
		rows, err := db.QueryContext(ctx, `SELECT seq, account_id, type, parent_id, vals, updated_at FROM accounts ORDER BY seq`)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var b strings.Builder
		for rows.Next() {
			var seq, typ, at int64
			var id, parent, vals string
			if err := rows.Scan(&seq, &id, &typ, &parent, &vals, &at); err != nil {
				return nil, err
			}
			fmt.Fprintln(&b, seq, id, typ, parent, vals, at)
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
		subs, err := db.QueryContext(ctx, `SELECT seq, subscription_id, account_id, product_id, status, quantity, addons, updated_at FROM subscriptions ORDER BY seq`)
		if err != nil {
			return nil, err
		}
		defer subs.Close()
		for subs.Next() {
			var seq, st, qty, at int64
			var id, acct, product, addons string
			if err := subs.Scan(&seq, &id, &acct, &product, &st, &qty, &addons, &at); err != nil {
				return nil, err
			}
			fmt.Fprintln(&b, "subscription", seq, id, acct, product, st, qty, addons, at)
		}
		return []byte(b.String()), subs.Err()
	}
}
