package store

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"
)

// Copied counts what [Copy] copied.
type Copied struct {
	Sync          int
	Subscriptions int
}

// Copy writes every sync and subscription record of src, with its account
// or desired-state snapshot, into dst, then reads each back from dst and
// checks it equals the source's: what moving a deployment from SQLite to
// PostgreSQL needs. Records already in dst are replaced; a re-run after an
// interruption finishes the copy. Nothing may write to src meanwhile.
func Copy(ctx context.Context, dst, src Store) (Copied, error) {
	var n Copied
	q := Query{PageSize: defaultPageSize}
	for {
		p, err := src.List(ctx, q)
		if err != nil {
			return n, fmt.Errorf("copy sync records: %w", err)
		}
		for _, e := range p.Entries {
			if err := dst.Put(ctx, e.Record, e.Account); err != nil {
				return n, fmt.Errorf("copy sync records: %w", err)
			}
			got, err := dst.Get(ctx, e.Record.GetPlugin(), e.Record.GetAccountId())
			if err != nil {
				return n, fmt.Errorf("copy sync records: read back: %w", err)
			}
			if !proto.Equal(got.Record, e.Record) || !proto.Equal(got.Account, e.Account) {
				return n, fmt.Errorf("copy sync records: %s/%s reads back different from the source", e.Record.GetPlugin(), e.Record.GetAccountId())
			}
			n.Sync++
		}
		if p.NextPageToken == "" {
			break
		}
		q.PageToken = p.NextPageToken
	}
	sq := SubscriptionQuery{PageSize: defaultPageSize}
	for {
		p, err := src.ListSubscriptions(ctx, sq)
		if err != nil {
			return n, fmt.Errorf("copy subscription records: %w", err)
		}
		for _, e := range p.Entries {
			if err := dst.PutSubscription(ctx, e.Record, e.Subscription); err != nil {
				return n, fmt.Errorf("copy subscription records: %w", err)
			}
			got, err := dst.GetSubscription(ctx, e.Record.GetPlugin(), e.Record.GetSubscriptionId())
			if err != nil {
				return n, fmt.Errorf("copy subscription records: read back: %w", err)
			}
			if !proto.Equal(got.Record, e.Record) || !proto.Equal(got.Subscription, e.Subscription) {
				return n, fmt.Errorf("copy subscription records: %s/%s reads back different from the source", e.Record.GetPlugin(), e.Record.GetSubscriptionId())
			}
			n.Subscriptions++
		}
		if p.NextPageToken == "" {
			break
		}
		sq.PageToken = p.NextPageToken
	}
	return n, nil
}
