package server_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/cloudbss/provisioning/host/store"
	"github.com/cloudbss/provisioning/plugin/diag"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// TestRequestLimits: identifiers and page tokens that are too long or not
// printable, and requests a plugin could not receive, are INVALID_ARGUMENT
// with a field violation (reason INVALID_VALUE), before any plugin or store
// sees them.
func TestRequestLimits(t *testing.T) {
	t.Parallel()
	st := store.NewMemory()
	c := newClient(t, st)
	sync := func(a *provisioningv1.Account) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := c.Synchronize(ctx, &hostv1.SynchronizeRequest{Plugin: plug, Request: &provisioningv1.SynchronizeRequest{Account: a}})
			return err
		}
	}
	huge := acct("BIG", reseller, "")
	huge.Name = strings.Repeat("n", 5<<20)
	tests := map[string]struct {
		call  func(context.Context) error
		field string
	}{
		"1 MB account id": {
			call: sync(acct(strings.Repeat("a", 1<<20), reseller, "")), field: "request.account.id",
		},
		"129-byte account id": {
			call: sync(acct(strings.Repeat("a", 129), reseller, "")), field: "request.account.id",
		},
		"escape in account id": {
			call: sync(acct("A\x1b[2J", reseller, "")), field: "request.account.id",
		},
		"newline in parent id": {
			call: sync(acct("A", customer, "R\n1")), field: "request.account.parent_id",
		},
		"long plugin name": {
			call: func(ctx context.Context) error {
				_, err := c.GetSyncRecord(ctx, &hostv1.GetSyncRecordRequest{Plugin: strings.Repeat("p", 200), AccountId: "A"})
				return err
			},
			field: "plugin",
		},
		"control character in record lookup": {
			call: func(ctx context.Context) error {
				_, err := c.GetSyncRecord(ctx, &hostv1.GetSyncRecordRequest{Plugin: plug, AccountId: "A\x00"})
				return err
			},
			field: "account_id",
		},
		"long page token": {
			call: func(ctx context.Context) error {
				_, err := c.ListSyncRecords(ctx, &hostv1.ListSyncRecordsRequest{PageToken: strings.Repeat("t", 2000)})
				return err
			},
			field: "page_token",
		},
		"bad subscription id": {
			call: func(ctx context.Context) error {
				_, err := c.GetSubscriptionRecord(ctx, &hostv1.GetSubscriptionRecordRequest{Plugin: plug, SubscriptionId: "S\x7f"})
				return err
			},
			field: "subscription_id",
		},
		"batch item id": {
			call: func(ctx context.Context) error {
				return recvErr(c.SynchronizeBatch(ctx, &hostv1.SynchronizeBatchRequest{Plugin: plug, Items: []*hostv1.BatchItem{
					{Account: acct("OK", reseller, "")}, {Account: acct(strings.Repeat("b", 300), reseller, "")},
				}}))
			},
			field: "items[1].account.id",
		},
		"request larger than a plugin accepts": {
			call: sync(huge), field: "request",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := tc.call(context.Background())
			d := diag.Parse(err)
			if d.Code != codes.InvalidArgument {
				t.Fatalf("code %v (%v), want InvalidArgument", d.Code, err)
			}
			var got []string
			for _, v := range d.Violations {
				got = append(got, v.Field+" "+v.Reason)
			}
			if diff := cmp.Diff([]string{tc.field + " " + diag.CodeInvalidValue}, got); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
		})
	}
	// Nothing of the above was stored.
	if p, err := st.List(context.Background(), store.Query{}); err != nil || len(p.Entries) != 0 {
		t.Errorf("stored after rejected requests: %v, %v", p.Entries, err)
	}
}

// rawCodec sends bytes as they are, to put what a proto encoder refuses on
// the wire.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(*v.(*[]byte))}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*v.(*[]byte) = data.Materialize()
	return nil
}

func (rawCodec) Name() string { return "proto" }

var _ encoding.CodecV2 = rawCodec{}

// TestInvalidUTF8: a request with a string that is not UTF-8 is the
// caller's mistake, INVALID_ARGUMENT, not INTERNAL.
func TestInvalidUTF8(t *testing.T) {
	t.Parallel()
	conn := newConn(t, store.NewMemory())
	// GetSyncRecordRequest{plugin: plug, account_id: "\xff\xfe"}
	msg, _ := proto.Marshal(&hostv1.GetSyncRecordRequest{Plugin: plug})
	msg = protowire.AppendTag(msg, 2, protowire.BytesType)
	msg = protowire.AppendString(msg, "\xff\xfe")
	var out []byte
	err := conn.Invoke(context.Background(), hostv1.HostService_GetSyncRecord_FullMethodName, &msg, &out, grpc.ForceCodecV2(rawCodec{}))
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("invalid UTF-8: %v, want InvalidArgument", err)
	}
}
