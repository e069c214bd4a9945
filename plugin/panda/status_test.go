package panda_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/mock/gomock"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cloudbss/provisioning/plugin/panda"
	"github.com/cloudbss/provisioning/plugin/panda/internal/remotemock"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

func TestGetSyncStatus(t *testing.T) {
	t.Parallel()
	earlier := timestamppb.New(fixedNow.Add(-time.Hour))
	rec := func(status provisioningv1.SyncStatus, private string) *provisioningv1.SyncRecord {
		r := record(status, newPanda, root, janeValues, "before")
		r.UpdatedAt = earlier
		if private != "" {
			r.Private = []byte(private)
		}
		return r
	}
	after := func(status provisioningv1.SyncStatus, msg string) *provisioningv1.SyncRecord {
		return record(status, newPanda, root, janeValues, msg)
	}
	op := func(account string, activated bool) func(m *remotemock.MockRemote) *gomock.Call {
		return func(m *remotemock.MockRemote) *gomock.Call {
			return m.EXPECT().GetOperator(gomock.Any(), "jane.doe").Return(&panda.Operator{Username: "jane.doe", AccountID: account, Activated: activated}, nil)
		}
	}
	noOp := func(m *remotemock.MockRemote) {
		m.EXPECT().GetOperator(gomock.Any(), "jane.doe").Return(nil, notFound("GetOperator"))
	}
	const tx = `{"v":1,"tx":"TX-1"}`
	tests := map[string]struct {
		record  *provisioningv1.SyncRecord
		remote  func(m *remotemock.MockRemote)
		want    *provisioningv1.SyncRecord
		wantErr string
	}{
		"synced, not activated: unchanged": {
			record: rec(stSynced, ""),
			remote: func(m *remotemock.MockRemote) { op(newPanda, false)(m) },
			want: func() *provisioningv1.SyncRecord {
				r := rec(stSynced, "")
				r.Message = msgSynced
				r.UpdatedAt = timestamppb.New(fixedNow)
				return r
			}(),
		},
		"synced, activated: ACTIVE": {
			record: rec(stSynced, ""),
			remote: func(m *remotemock.MockRemote) { op(newPanda, true)(m) },
			want:   after(stActive, msgActive),
		},
		"active stays active, same updated_at": {
			record: func() *provisioningv1.SyncRecord { r := rec(stActive, ""); r.Message = msgActive; return r }(),
			remote: func(m *remotemock.MockRemote) { op(newPanda, true)(m) },
			want:   func() *provisioningv1.SyncRecord { r := rec(stActive, ""); r.Message = msgActive; return r }(),
		},
		"account gone: MISSING": {
			record: rec(stActive, ""),
			remote: func(m *remotemock.MockRemote) {
				noOp(m)
				m.EXPECT().GetAccount(gomock.Any(), newPanda).Return(nil, notFound("GetAccount"))
			},
			want: after(stMissing, "the Panda account "+newPanda+" no longer exists"),
		},
		"operator gone, account still there: MISSING": {
			record: rec(stSynced, ""),
			remote: func(m *remotemock.MockRemote) {
				noOp(m)
				m.EXPECT().GetAccount(gomock.Any(), newPanda).Return(&panda.RemoteAccount{ID: newPanda}, nil)
			},
			want: after(stMissing, "operator jane.doe no longer exists in Panda account "+newPanda),
		},
		"missing, restored: SYNCED": {
			record: rec(stMissing, ""),
			remote: func(m *remotemock.MockRemote) { op(newPanda, false)(m) },
			want:   after(stSynced, msgSynced),
		},
		"pending, still pending: unchanged": {
			record: rec(stPending, tx),
			remote: func(m *remotemock.MockRemote) { expectTx(m, "TX-1", panda.TransactionPending, "") },
			want: func() *provisioningv1.SyncRecord {
				r := rec(stPending, tx)
				r.Message = "Panda is still creating operator jane.doe"
				r.UpdatedAt = timestamppb.New(fixedNow)
				return r
			}(),
		},
		"pending, settled: SYNCED": {
			record: rec(stPending, tx),
			remote: func(m *remotemock.MockRemote) {
				gomock.InOrder(expectTx(m, "TX-1", panda.TransactionSuccess, ""), op(newPanda, false)(m))
			},
			want: after(stSynced, msgSynced),
		},
		"pending, username taken by another: FAILED": {
			record: rec(stPending, tx),
			remote: func(m *remotemock.MockRemote) {
				gomock.InOrder(expectTx(m, "TX-1", panda.TransactionFailed, panda.TxErrUsernameTaken), op("ACC-5555555", false)(m))
			},
			want: after(stFailed, "username jane.doe was taken by another Panda account before the operator could be created; synchronize again with another username"),
		},
		"pending, refused: FAILED with the reason": {
			record: rec(stPending, tx),
			remote: func(m *remotemock.MockRemote) { expectTx(m, "TX-1", panda.TransactionFailed, "QUOTA") },
			want:   after(stFailed, "Panda refused the operator (QUOTA)"),
		},
		"pending, account deleted: MISSING": {
			record: rec(stPending, tx),
			remote: func(m *remotemock.MockRemote) {
				expectTx(m, "TX-1", panda.TransactionFailed, panda.TxErrAccountGone)
			},
			want: after(stMissing, "the Panda account "+newPanda+" was deleted before its operator was created"),
		},
		"pending, transaction forgotten, operator there: SYNCED": {
			record: rec(stPending, tx),
			remote: func(m *remotemock.MockRemote) {
				m.EXPECT().GetTransaction(gomock.Any(), "TX-1").Return(nil, notFound("GetTransaction"))
				op(newPanda, false)(m)
			},
			want: after(stSynced, msgSynced),
		},
		"pending, transaction forgotten, no operator: FAILED": {
			record: rec(stPending, tx),
			remote: func(m *remotemock.MockRemote) {
				m.EXPECT().GetTransaction(gomock.Any(), "TX-1").Return(nil, notFound("GetTransaction"))
				noOp(m)
				m.EXPECT().GetAccount(gomock.Any(), newPanda).Return(&panda.RemoteAccount{ID: newPanda}, nil)
			},
			want: after(stFailed, "the operator of Panda account "+newPanda+" was never created; synchronize again"),
		},
		"failed: nothing to refresh": {
			record: rec(stFailed, ""),
			want:   rec(stFailed, ""),
		},
		"not synced: nothing to refresh": {
			record: &provisioningv1.SyncRecord{AccountId: "C-100", Status: provisioningv1.SyncStatus_SYNC_STATUS_NOT_SYNCED},
			want:   &provisioningv1.SyncRecord{AccountId: "C-100", Status: provisioningv1.SyncStatus_SYNC_STATUS_NOT_SYNCED},
		},
		"Panda down": {
			record: rec(stSynced, ""),
			remote: func(m *remotemock.MockRemote) {
				m.EXPECT().GetOperator(gomock.Any(), "jane.doe").Return(nil, unavailable("GetOperator"))
			},
			wantErr: "Unavailable REMOTE_UNAVAILABLE",
		},
		"no record":            {wantErr: "InvalidArgument REQUIRED record"},
		"no record.account_id": {record: &provisioningv1.SyncRecord{Status: stSynced}, wantErr: "InvalidArgument REQUIRED record.account_id"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a, m := newMocked(t)
			if tc.remote != nil {
				tc.remote(m)
			}
			resp, err := a.GetSyncStatus(context.Background(), &provisioningv1.GetSyncStatusRequest{Record: tc.record})
			if got := errKey(err); tc.wantErr != "" || err != nil {
				if got != tc.wantErr {
					t.Fatalf("error = %q (%v), want %q", got, err, tc.wantErr)
				}
				return
			}
			if diff := cmp.Diff(tc.want, resp.GetRecord(), protocmp.Transform()); diff != "" {
				t.Errorf("record (-want +got):\n%s", diff)
			}
		})
	}
}
