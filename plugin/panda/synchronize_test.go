package panda_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/mock/gomock"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cloudbss/provisioning/plugin/panda"
	"github.com/cloudbss/provisioning/plugin/panda/internal/remotemock"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

const newPanda = "ACC-2000001"

// Expectation builders for the happy path of the direct customer.

func expectFree(m *remotemock.MockRemote, u string) *gomock.Call {
	return m.EXPECT().GetOperator(gomock.Any(), u).Return(nil, notFound("GetOperator"))
}

func expectNoPriorAccount(m *remotemock.MockRemote, parent, name string, typ panda.AccountType) *gomock.Call {
	return m.EXPECT().ListChildren(gomock.Any(), parent, panda.ListChildrenOptions{Name: name, Type: typ, Limit: 100}).
		Return(&panda.AccountPage{}, nil)
}

func expectCreateAccount(m *remotemock.MockRemote, parent string, req panda.CreateAccountRequest, id string) *gomock.Call {
	return m.EXPECT().CreateAccount(gomock.Any(), parent, req).
		Return(&panda.RemoteAccount{ID: id, ParentID: parent, Type: req.Type, Name: req.Name, Email: req.Email}, nil)
}

func expectCreateOperator(m *remotemock.MockRemote, req panda.CreateOperatorRequest, tx string) *gomock.Call {
	return m.EXPECT().CreateOperator(gomock.Any(), req).
		Return(&panda.Transaction{ID: tx, Status: panda.TransactionPending}, nil)
}

func expectTx(m *remotemock.MockRemote, tx string, status panda.TransactionStatus, code string) *gomock.Call {
	return m.EXPECT().GetTransaction(gomock.Any(), tx).Return(&panda.Transaction{ID: tx, Status: status, ErrorCode: code, Error: code}, nil)
}

var (
	janeAccount = panda.CreateAccountRequest{Type: panda.AccountTypeSubscriber, Name: "Acme Corp", FirstName: "Jane", LastName: "Doe", Email: "jane.doe@acme.example"}
	janeOp      = panda.CreateOperatorRequest{Username: "jane.doe", AccountID: newPanda, FirstName: "Jane", LastName: "Doe", Email: "jane.doe@acme.example", Role: panda.OperatorAdministrator}
	janeValues  = map[string]string{"role": "User", "username": "jane.doe"}
)

func record(status provisioningv1.SyncStatus, remoteID, parent string, values map[string]string, msg string) *provisioningv1.SyncRecord {
	return &provisioningv1.SyncRecord{
		Plugin: "panda", AccountId: "C-100", Status: status, RemoteId: remoteID, RemoteParentId: parent,
		Values: values, Message: msg, UpdatedAt: timestamppb.New(fixedNow),
	}
}

const (
	stSynced  = provisioningv1.SyncStatus_SYNC_STATUS_SYNCED
	stActive  = provisioningv1.SyncStatus_SYNC_STATUS_ACTIVE
	stPending = provisioningv1.SyncStatus_SYNC_STATUS_PENDING
	stFailed  = provisioningv1.SyncStatus_SYNC_STATUS_FAILED
	stMissing = provisioningv1.SyncStatus_SYNC_STATUS_MISSING
)

var (
	msgSynced = "operator jane.doe created; waiting for the customer to activate it from the emailed instructions"
	msgActive = "operator jane.doe is active"
)

func TestSynchronize(t *testing.T) {
	t.Parallel()
	oldRecord := syncedRecord(stSynced)
	oldRecord.UpdatedAt = timestamppb.New(fixedNow.Add(-time.Hour))
	tests := map[string]struct {
		req         *provisioningv1.SynchronizeRequest
		remote      func(m *remotemock.MockRemote)
		want        *provisioningv1.SyncRecord
		wantCreated bool
		wantUpdated bool
		wantErr     string
		// settings overrides settings() for this case (pairs).
		settings []string
	}{
		"direct customer: four requests, no username check before the create": {
			req: &provisioningv1.SynchronizeRequest{Account: directCustomer(), AutoFill: true},
			remote: func(m *remotemock.MockRemote) {
				gomock.InOrder(
					expectNoPriorAccount(m, root, "Acme Corp", panda.AccountTypeSubscriber),
					expectCreateAccount(m, root, janeAccount, newPanda),
					expectCreateOperator(m, janeOp, "TX-1"),
					expectTx(m, "TX-1", panda.TransactionSuccess, ""),
				)
			},
			want:        record(stSynced, newPanda, root, janeValues, msgSynced),
			wantCreated: true,
		},
		"reseller: a service provider with an OWNER": {
			req: &provisioningv1.SynchronizeRequest{Account: resellerAccount(), Values: map[string]string{"role": "Reseller", "username": "olga.p"}},
			remote: func(m *remotemock.MockRemote) {
				gomock.InOrder(
					expectNoPriorAccount(m, root, "Resell Ltd", panda.AccountTypeServiceProvider),
					expectCreateAccount(m, root, panda.CreateAccountRequest{Type: panda.AccountTypeServiceProvider, Name: "Resell Ltd", FirstName: "Olga", LastName: "Petrova", Email: "ops@resell.example"}, resellerPanda),
					expectCreateOperator(m, panda.CreateOperatorRequest{Username: "olga.p", AccountID: resellerPanda, FirstName: "Olga", LastName: "Petrova", Email: "ops@resell.example", Role: panda.OperatorOwner}, "TX-2"),
					expectTx(m, "TX-2", panda.TransactionSuccess, ""),
				)
			},
			want: func() *provisioningv1.SyncRecord {
				r := record(stSynced, resellerPanda, root, map[string]string{"role": "Reseller", "username": "olga.p"}, "operator olga.p created; waiting for the customer to activate it from the emailed instructions")
				r.AccountId = "R-200"
				return r
			}(),
			wantCreated: true,
		},
		"end customer: created under the reseller": {
			req: &provisioningv1.SynchronizeRequest{Account: endCustomer(), Ancestors: []*provisioningv1.Ancestor{syncedReseller()}, AutoFill: true},
			remote: func(m *remotemock.MockRemote) {
				gomock.InOrder(
					expectNoPriorAccount(m, resellerPanda, "Beta SL", panda.AccountTypeSubscriber),
					expectCreateAccount(m, resellerPanda, panda.CreateAccountRequest{Type: 2, Name: "Beta SL", Email: "it@beta.example"}, "ACC-3000003"),
					expectCreateOperator(m, panda.CreateOperatorRequest{Username: "it.beta-sl", AccountID: "ACC-3000003", Email: "it@beta.example", Role: panda.OperatorAdministrator}, "TX-3"),
					expectTx(m, "TX-3", panda.TransactionSuccess, ""),
				)
			},
			want: func() *provisioningv1.SyncRecord {
				r := record(stSynced, "ACC-3000003", resellerPanda, map[string]string{"role": "User", "username": "it.beta-sl", "parent_account": resellerPanda}, "operator it.beta-sl created; waiting for the customer to activate it from the emailed instructions")
				r.AccountId = "E-300"
				return r
			}(),
			wantCreated: true,
		},
		"transaction polled until it settles": {
			// Three polls 1 ms apart: a deadline far above that, so a loaded
			// machine cannot turn the third poll into "still pending".
			settings: []string{panda.SettingTxDeadline, "10s"},
			req:      &provisioningv1.SynchronizeRequest{Account: directCustomer(), AutoFill: true},
			remote: func(m *remotemock.MockRemote) {
				gomock.InOrder(
					expectNoPriorAccount(m, root, "Acme Corp", panda.AccountTypeSubscriber),
					expectCreateAccount(m, root, janeAccount, newPanda),
					expectCreateOperator(m, janeOp, "TX-1"),
					expectTx(m, "TX-1", panda.TransactionPending, ""),
					expectTx(m, "TX-1", panda.TransactionPending, ""),
					expectTx(m, "TX-1", panda.TransactionSuccess, ""),
				)
			},
			want:        record(stSynced, newPanda, root, janeValues, msgSynced),
			wantCreated: true,
		},
		"replay of a synchronized record: reads only, same record": {
			req: &provisioningv1.SynchronizeRequest{Account: directCustomer(), Record: oldRecord, Values: janeValues},
			remote: func(m *remotemock.MockRemote) {
				m.EXPECT().GetOperator(gomock.Any(), "jane.doe").Return(&panda.Operator{Username: "jane.doe", AccountID: newPanda}, nil)
				m.EXPECT().GetAccount(gomock.Any(), newPanda).Return(janeRemote(), nil)
			},
			want: oldRecord,
		},
		"replay after activation: ACTIVE": {
			req: &provisioningv1.SynchronizeRequest{Account: directCustomer(), Record: oldRecord, AutoFill: true},
			remote: func(m *remotemock.MockRemote) {
				m.EXPECT().GetOperator(gomock.Any(), "jane.doe").Return(&panda.Operator{Username: "jane.doe", AccountID: newPanda, Activated: true}, nil)
				m.EXPECT().GetAccount(gomock.Any(), newPanda).Return(janeRemote(), nil)
			},
			want: record(stActive, newPanda, root, janeValues, msgActive),
		},
		"a look-alike (same parent, type, name, email) holds the suggestion: never adopted, a new account with the next variant": {
			req: &provisioningv1.SynchronizeRequest{Account: directCustomer(), AutoFill: true},
			remote: func(m *remotemock.MockRemote) {
				// No record, nothing journaled: the username is first checked
				// by the operator transaction; the look-alike's operator is
				// still not ours.
				gomock.InOrder(
					m.EXPECT().ListChildren(gomock.Any(), root, gomock.Any()).Return(&panda.AccountPage{Total: 1, Accounts: []panda.RemoteAccount{
						{ID: "ACC-7777777", ParentID: root, Type: 2, Name: "Acme Corp", Email: "jane.doe@acme.example"},
					}}, nil),
					expectCreateAccount(m, root, janeAccount, newPanda),
					expectCreateOperator(m, janeOp, "TX-1"),
					expectTx(m, "TX-1", panda.TransactionFailed, panda.TxErrUsernameTaken),
					m.EXPECT().GetOperator(gomock.Any(), "jane.doe").Return(&panda.Operator{Username: "jane.doe", AccountID: "ACC-7777777"}, nil),
					expectFree(m, "jane.doe-2"),
					expectCreateOperator(m, withUsername(janeOp, "jane.doe-2"), "TX-2"),
					expectTx(m, "TX-2", panda.TransactionSuccess, ""),
				)
			},
			want: record(stSynced, newPanda, root, map[string]string{"role": "User", "username": "jane.doe-2"},
				"operator jane.doe-2 created; waiting for the customer to activate it from the emailed instructions"),
			wantCreated: true,
		},
		"the failed record's own account without an operator is reused": {
			req: &provisioningv1.SynchronizeRequest{Account: directCustomer(), AutoFill: true,
				Record: &provisioningv1.SyncRecord{Plugin: "panda", AccountId: "C-100", Status: stFailed, RemoteId: "ACC-6000003", RemoteParentId: root}},
			remote: func(m *remotemock.MockRemote) {
				gomock.InOrder(
					expectFree(m, "jane.doe"),
					m.EXPECT().GetAccount(gomock.Any(), "ACC-6000003").Return(&panda.RemoteAccount{ID: "ACC-6000003", ParentID: root, Type: 2, Name: "Acme Corp", Email: "jane.doe@acme.example"}, nil),
					m.EXPECT().ListOperators(gomock.Any(), "ACC-6000003").Return(nil, nil),
					expectCreateOperator(m, withAccount(janeOp, "ACC-6000003"), "TX-4"),
					expectTx(m, "TX-4", panda.TransactionSuccess, ""),
				)
			},
			want:        record(stSynced, "ACC-6000003", root, janeValues, msgSynced),
			wantCreated: true,
		},
		"commit-then-fail on CreateAccount: the account is found, not duplicated": {
			req: &provisioningv1.SynchronizeRequest{Account: directCustomer(), AutoFill: true},
			remote: func(m *remotemock.MockRemote) {
				gomock.InOrder(
					expectNoPriorAccount(m, root, "Acme Corp", panda.AccountTypeSubscriber),
					m.EXPECT().CreateAccount(gomock.Any(), root, janeAccount).Return(nil, lostAnswer("CreateAccount")),
					m.EXPECT().ListChildren(gomock.Any(), root, gomock.Any()).Return(&panda.AccountPage{Total: 1, Accounts: []panda.RemoteAccount{
						{ID: newPanda, ParentID: root, Type: 2, Name: "Acme Corp", Email: "jane.doe@acme.example"},
					}}, nil),
					m.EXPECT().ListOperators(gomock.Any(), newPanda).Return(nil, nil),
					expectCreateOperator(m, janeOp, "TX-1"),
					expectTx(m, "TX-1", panda.TransactionSuccess, ""),
				)
			},
			want:        record(stSynced, newPanda, root, janeValues, msgSynced),
			wantCreated: true,
		},
		"commit-then-fail on CreateAccount that did not commit: created once more": {
			req: &provisioningv1.SynchronizeRequest{Account: directCustomer(), AutoFill: true},
			remote: func(m *remotemock.MockRemote) {
				gomock.InOrder(
					expectNoPriorAccount(m, root, "Acme Corp", panda.AccountTypeSubscriber),
					m.EXPECT().CreateAccount(gomock.Any(), root, janeAccount).Return(nil, lostAnswer("CreateAccount")),
					expectNoPriorAccount(m, root, "Acme Corp", panda.AccountTypeSubscriber),
					expectCreateAccount(m, root, janeAccount, newPanda),
					expectCreateOperator(m, janeOp, "TX-1"),
					expectTx(m, "TX-1", panda.TransactionSuccess, ""),
				)
			},
			want:        record(stSynced, newPanda, root, janeValues, msgSynced),
			wantCreated: true,
		},
		"commit-then-fail on CreateOperator: the resend's USERNAME_TAKEN is our own operator": {
			req: &provisioningv1.SynchronizeRequest{Account: directCustomer(), AutoFill: true},
			remote: func(m *remotemock.MockRemote) {
				gomock.InOrder(
					expectNoPriorAccount(m, root, "Acme Corp", panda.AccountTypeSubscriber),
					expectCreateAccount(m, root, janeAccount, newPanda),
					m.EXPECT().CreateOperator(gomock.Any(), janeOp).Return(nil, lostAnswer("CreateOperator")),
					expectCreateOperator(m, janeOp, "TX-9"),
					expectTx(m, "TX-9", panda.TransactionFailed, panda.TxErrUsernameTaken),
					m.EXPECT().GetOperator(gomock.Any(), "jane.doe").Return(&panda.Operator{Username: "jane.doe", AccountID: newPanda}, nil),
				)
			},
			want:        record(stSynced, newPanda, root, janeValues, msgSynced),
			wantCreated: true,
		},
		"username taken at creation: the new account is deleted": {
			req: &provisioningv1.SynchronizeRequest{Account: directCustomer(), Values: janeValues},
			remote: func(m *remotemock.MockRemote) {
				gomock.InOrder(
					expectNoPriorAccount(m, root, "Acme Corp", panda.AccountTypeSubscriber),
					expectCreateAccount(m, root, janeAccount, newPanda),
					expectCreateOperator(m, janeOp, "TX-1"),
					expectTx(m, "TX-1", panda.TransactionFailed, panda.TxErrUsernameTaken),
					m.EXPECT().GetOperator(gomock.Any(), "jane.doe").Return(&panda.Operator{Username: "jane.doe", AccountID: "ACC-5555555"}, nil),
					m.EXPECT().DeleteAccount(gomock.Any(), newPanda).Return(nil),
				)
			},
			wantErr: "AlreadyExists USERNAME_TAKEN username",
		},
		"username taken at creation of a reused account: the account stays": {
			req: &provisioningv1.SynchronizeRequest{Account: directCustomer(), Values: janeValues,
				Record: &provisioningv1.SyncRecord{Plugin: "panda", AccountId: "C-100", Status: stFailed, RemoteId: newPanda, RemoteParentId: root}},
			remote: func(m *remotemock.MockRemote) {
				gomock.InOrder(
					expectFree(m, "jane.doe"),
					m.EXPECT().GetAccount(gomock.Any(), newPanda).Return(janeRemote(), nil),
					m.EXPECT().ListOperators(gomock.Any(), newPanda).Return(nil, nil),
					expectCreateOperator(m, janeOp, "TX-1"),
					expectTx(m, "TX-1", panda.TransactionFailed, panda.TxErrUsernameTaken),
					m.EXPECT().GetOperator(gomock.Any(), "jane.doe").Return(&panda.Operator{Username: "jane.doe", AccountID: "ACC-5555555"}, nil),
				)
			},
			wantErr: "AlreadyExists USERNAME_TAKEN username",
		},
		"auto_fill: a suggestion taken at creation moves to the next variant": {
			req: &provisioningv1.SynchronizeRequest{Account: directCustomer(), AutoFill: true},
			remote: func(m *remotemock.MockRemote) {
				gomock.InOrder(
					expectNoPriorAccount(m, root, "Acme Corp", panda.AccountTypeSubscriber),
					expectCreateAccount(m, root, janeAccount, newPanda),
					expectCreateOperator(m, janeOp, "TX-1"),
					expectTx(m, "TX-1", panda.TransactionFailed, panda.TxErrUsernameTaken),
					m.EXPECT().GetOperator(gomock.Any(), "jane.doe").Return(&panda.Operator{Username: "jane.doe", AccountID: "ACC-5555555"}, nil),
					m.EXPECT().GetOperator(gomock.Any(), "jane.doe-2").Return(&panda.Operator{Username: "jane.doe-2", AccountID: "ACC-5555556"}, nil),
					expectFree(m, "jane.doe-3"),
					expectCreateOperator(m, withUsername(janeOp, "jane.doe-3"), "TX-2"),
					expectTx(m, "TX-2", panda.TransactionSuccess, ""),
				)
			},
			want: record(stSynced, newPanda, root, map[string]string{"role": "User", "username": "jane.doe-3"},
				"operator jane.doe-3 created; waiting for the customer to activate it from the emailed instructions"),
			wantCreated: true,
		},
		"transaction still pending at the deadline: PENDING with the transaction": {
			req: &provisioningv1.SynchronizeRequest{Account: directCustomer(), AutoFill: true},
			remote: func(m *remotemock.MockRemote) {
				expectNoPriorAccount(m, root, "Acme Corp", panda.AccountTypeSubscriber)
				expectCreateAccount(m, root, janeAccount, newPanda)
				expectCreateOperator(m, janeOp, "TX-1")
				expectTx(m, "TX-1", panda.TransactionPending, "").MinTimes(1)
			},
			want:        record(stPending, newPanda, root, janeValues, "Panda is still creating operator jane.doe"),
			wantCreated: true,
		},
		"pending record: resumed": {
			req: &provisioningv1.SynchronizeRequest{Account: directCustomer(), AutoFill: true,
				Record: withPrivate(record(stPending, newPanda, root, janeValues, "Panda is still creating operator jane.doe"), `{"v":1,"tx":"TX-1"}`)},
			remote: func(m *remotemock.MockRemote) {
				gomock.InOrder(
					expectFree(m, "jane.doe"),
					expectTx(m, "TX-1", panda.TransactionSuccess, ""),
				)
			},
			want: record(stSynced, newPanda, root, janeValues, msgSynced),
		},
		"pending record whose operator meanwhile exists": {
			req: &provisioningv1.SynchronizeRequest{Account: directCustomer(), AutoFill: true,
				Record: withPrivate(record(stPending, newPanda, root, janeValues, "Panda is still creating operator jane.doe"), `{"v":1,"tx":"TX-1"}`)},
			remote: func(m *remotemock.MockRemote) {
				m.EXPECT().GetOperator(gomock.Any(), "jane.doe").Return(&panda.Operator{Username: "jane.doe", AccountID: newPanda}, nil)
				m.EXPECT().GetAccount(gomock.Any(), newPanda).Return(janeRemote(), nil)
			},
			want: record(stSynced, newPanda, root, janeValues, msgSynced),
		},
		"synchronized record whose Panda account is gone: created again": {
			req: &provisioningv1.SynchronizeRequest{Account: directCustomer(), Record: oldRecord},
			remote: func(m *remotemock.MockRemote) {
				gomock.InOrder(
					expectFree(m, "jane.doe"),
					m.EXPECT().GetAccount(gomock.Any(), newPanda).Return(nil, notFound("GetAccount")),
					expectNoPriorAccount(m, root, "Acme Corp", panda.AccountTypeSubscriber),
					expectCreateAccount(m, root, janeAccount, "ACC-2000002"),
					expectCreateOperator(m, withAccount(janeOp, "ACC-2000002"), "TX-5"),
					expectTx(m, "TX-5", panda.TransactionSuccess, ""),
				)
			},
			want:        record(stSynced, "ACC-2000002", root, janeValues, msgSynced),
			wantCreated: true,
		},
		"Panda refuses the operator: FAILED record": {
			req: &provisioningv1.SynchronizeRequest{Account: directCustomer(), AutoFill: true},
			remote: func(m *remotemock.MockRemote) {
				gomock.InOrder(
					expectNoPriorAccount(m, root, "Acme Corp", panda.AccountTypeSubscriber),
					expectCreateAccount(m, root, janeAccount, newPanda),
					expectCreateOperator(m, janeOp, "TX-1"),
					expectTx(m, "TX-1", panda.TransactionFailed, "QUOTA"),
				)
			},
			want:        withReason(record(stFailed, newPanda, root, janeValues, "Panda refused the operator (QUOTA)"), "REMOTE_REJECTED"),
			wantCreated: true,
		},
		"renamed, new email and contact: PATCH, updated": {
			req: &provisioningv1.SynchronizeRequest{Account: renamed(), Record: oldRecord, Values: janeValues},
			remote: func(m *remotemock.MockRemote) {
				gomock.InOrder(
					m.EXPECT().GetOperator(gomock.Any(), "jane.doe").Return(&panda.Operator{Username: "jane.doe", AccountID: newPanda}, nil),
					m.EXPECT().GetAccount(gomock.Any(), newPanda).Return(janeRemote(), nil),
					m.EXPECT().UpdateAccount(gomock.Any(), newPanda, panda.UpdateAccountRequest{Name: "Acme Group", FirstName: "Juana", LastName: "Doe", Email: "it@acme-group.example"}).Return(nil),
				)
			},
			want:        withUpdatedAt(oldRecord, fixedNow),
			wantUpdated: true,
		},
		"only the email's case differs: nothing written": {
			req: &provisioningv1.SynchronizeRequest{Account: withEmail(directCustomer(), "Jane.Doe@ACME.example"), Record: oldRecord, Values: janeValues},
			remote: func(m *remotemock.MockRemote) {
				m.EXPECT().GetOperator(gomock.Any(), "jane.doe").Return(&panda.Operator{Username: "jane.doe", AccountID: newPanda}, nil)
				m.EXPECT().GetAccount(gomock.Any(), newPanda).Return(janeRemote(), nil)
			},
			want: oldRecord,
		},
		"PATCH refused by Panda: REMOTE_REJECTED": {
			req: &provisioningv1.SynchronizeRequest{Account: renamed(), Record: oldRecord, Values: janeValues},
			remote: func(m *remotemock.MockRemote) {
				m.EXPECT().GetOperator(gomock.Any(), "jane.doe").Return(&panda.Operator{Username: "jane.doe", AccountID: newPanda}, nil)
				m.EXPECT().GetAccount(gomock.Any(), newPanda).Return(janeRemote(), nil)
				m.EXPECT().UpdateAccount(gomock.Any(), newPanda, gomock.Any()).Return(&panda.RemoteError{Kind: panda.ErrInvalid, Message: "bad"})
			},
			wantErr: "InvalidArgument REMOTE_REJECTED account",
		},
		"synchronized account whose name was emptied: REQUIRED, nothing pushed": {
			req:     &provisioningv1.SynchronizeRequest{Account: func() *provisioningv1.Account { a := directCustomer(); a.Name = " "; return a }(), Record: oldRecord, Values: janeValues},
			wantErr: "InvalidArgument REQUIRED account.name",
		},
		"synchronized account whose email became invalid: INVALID_EMAIL, nothing pushed": {
			req:     &provisioningv1.SynchronizeRequest{Account: withEmail(directCustomer(), "nobody"), Record: oldRecord, Values: janeValues},
			wantErr: "InvalidArgument INVALID_EMAIL account.corporate_email",
		},
		"self-parent: INVALID_ARGUMENT, nothing read": {
			req:     &provisioningv1.SynchronizeRequest{Account: withParent(directCustomer(), "C-100"), AutoFill: true},
			wantErr: "InvalidArgument SELF_PARENT account.parent_id",
		},
		"synchronized direct account now under a reseller: PARENT_CHANGED": {
			req: &provisioningv1.SynchronizeRequest{Account: withParent(directCustomer(), "R-200"), Record: oldRecord, AutoFill: true,
				Ancestors: []*provisioningv1.Ancestor{syncedReseller()}},
			wantErr: "FailedPrecondition PARENT_CHANGED account.parent_id",
		},
		"end customer moved to another reseller: PARENT_CHANGED": {
			req: &provisioningv1.SynchronizeRequest{Account: endCustomer(), AutoFill: true,
				Record: &provisioningv1.SyncRecord{Plugin: "panda", AccountId: "E-300", Status: stSynced, RemoteId: "ACC-3000001", RemoteParentId: "ACC-9999999",
					Values: map[string]string{"parent_account": "ACC-9999999", "role": "User", "username": "it.beta-sl"}},
				Ancestors: []*provisioningv1.Ancestor{syncedReseller()}},
			wantErr: "FailedPrecondition PARENT_CHANGED account.parent_id",
		},
		"synchronized end customer now direct: PARENT_CHANGED": {
			req: &provisioningv1.SynchronizeRequest{Account: withParent(endCustomer(), ""), AutoFill: true,
				Record: &provisioningv1.SyncRecord{Plugin: "panda", AccountId: "E-300", Status: stSynced, RemoteId: "ACC-3000001", RemoteParentId: resellerPanda,
					Values: map[string]string{"parent_account": resellerPanda, "role": "User", "username": "it.beta-sl"}}},
			wantErr: "FailedPrecondition PARENT_CHANGED account.parent_id",
		},
		"customer synchronized as such, now a reseller: TYPE_CHANGE_UNSUPPORTED": {
			req: &provisioningv1.SynchronizeRequest{Account: withType(directCustomer(), provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER),
				Record: withPrivate(syncedRecord(stSynced), `{"v":1,"type":"customer"}`), AutoFill: true},
			wantErr: "FailedPrecondition TYPE_CHANGE_UNSUPPORTED account.type",
		},
		"Panda Reseller now a customer: TYPE_CHANGE_UNSUPPORTED": {
			req: &provisioningv1.SynchronizeRequest{Account: withType(resellerAccount(), provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER), AutoFill: true,
				Record: &provisioningv1.SyncRecord{Plugin: "panda", AccountId: "R-200", Status: stSynced, RemoteId: resellerPanda, RemoteParentId: root,
					Values: map[string]string{"role": "Reseller", "username": "ops.resell-ltd"}}},
			wantErr: "FailedPrecondition TYPE_CHANGE_UNSUPPORTED account.type",
		},
		"reseller that chose User (record says reseller): no type change": {
			req: &provisioningv1.SynchronizeRequest{Account: withType(directCustomer(), provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER),
				Record: withPrivate(syncedRecord(stSynced), `{"v":1,"type":"reseller"}`), AutoFill: true},
			remote: func(m *remotemock.MockRemote) {
				m.EXPECT().GetOperator(gomock.Any(), "jane.doe").Return(&panda.Operator{Username: "jane.doe", AccountID: "ACC-2000001"}, nil)
				m.EXPECT().GetAccount(gomock.Any(), "ACC-2000001").Return(janeRemote(), nil)
			},
			want: withPrivate(syncedRecord(stSynced), `{"v":1,"type":"reseller"}`),
		},
		"validation error: no remote write": {
			req:     &provisioningv1.SynchronizeRequest{Account: directCustomer(), Values: map[string]string{"role": "Reseller", "username": "jane.doe"}},
			wantErr: "InvalidArgument ROLE_NOT_ALLOWED role",
		},
		"parent not synchronized: FAILED_PRECONDITION": {
			req:     &provisioningv1.SynchronizeRequest{Account: endCustomer(), AutoFill: true},
			wantErr: "FailedPrecondition PARENT_NOT_SYNCED parent_account",
		},
		"parent a Panda User: FAILED_PRECONDITION": {
			req: &provisioningv1.SynchronizeRequest{Account: endCustomer(), AutoFill: true,
				Ancestors: []*provisioningv1.Ancestor{resellerAncestor(stSynced, panda.RoleUser)}},
			wantErr: "FailedPrecondition PARENT_NOT_RESELLER parent_account",
		},
		"own account, username taken: checked before anything is written, ALREADY_EXISTS": {
			req: &provisioningv1.SynchronizeRequest{Account: directCustomer(), Values: janeValues,
				Record: &provisioningv1.SyncRecord{Plugin: "panda", AccountId: "C-100", Status: stFailed, RemoteId: newPanda, RemoteParentId: root}},
			remote: func(m *remotemock.MockRemote) {
				m.EXPECT().GetOperator(gomock.Any(), "jane.doe").Return(&panda.Operator{Username: "jane.doe", AccountID: "ACC-5555555"}, nil)
			},
			wantErr: "AlreadyExists USERNAME_TAKEN username",
		},
		"bad corporate email: INVALID_ARGUMENT": {
			req: &provisioningv1.SynchronizeRequest{Account: &provisioningv1.Account{Id: "C-1", Type: provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER, Name: "Acme"},
				AutoFill: true},
			wantErr: "InvalidArgument INVALID_EMAIL account.corporate_email",
		},
		"Panda's tier limit: FAILED_PRECONDITION": {
			req: &provisioningv1.SynchronizeRequest{Account: endCustomer(), Ancestors: []*provisioningv1.Ancestor{syncedReseller()}, AutoFill: true},
			remote: func(m *remotemock.MockRemote) {
				expectNoPriorAccount(m, resellerPanda, "Beta SL", panda.AccountTypeSubscriber)
				m.EXPECT().CreateAccount(gomock.Any(), resellerPanda, gomock.Any()).Return(nil, &panda.RemoteError{Kind: panda.ErrConflict, Code: "TIER_LIMIT"})
			},
			wantErr: "FailedPrecondition TIER_LIMIT parent_account",
		},
		"reseller's Panda account gone: FAILED_PRECONDITION": {
			req: &provisioningv1.SynchronizeRequest{Account: endCustomer(), Ancestors: []*provisioningv1.Ancestor{syncedReseller()}, AutoFill: true},
			remote: func(m *remotemock.MockRemote) {
				m.EXPECT().ListChildren(gomock.Any(), resellerPanda, gomock.Any()).Return(nil, notFound("ListChildren"))
			},
			wantErr: "FailedPrecondition PARENT_NOT_SYNCED parent_account",
		},
		"root account gone: FAILED_PRECONDITION": {
			req: &provisioningv1.SynchronizeRequest{Account: directCustomer(), AutoFill: true},
			remote: func(m *remotemock.MockRemote) {
				expectNoPriorAccount(m, root, "Acme Corp", panda.AccountTypeSubscriber)
				m.EXPECT().CreateAccount(gomock.Any(), root, gomock.Any()).Return(nil, notFound("CreateAccount"))
			},
			wantErr: "FailedPrecondition ROOT_ACCOUNT_MISSING settings",
		},
		"credentials refused": {
			req: &provisioningv1.SynchronizeRequest{Account: directCustomer(), AutoFill: true},
			remote: func(m *remotemock.MockRemote) {
				m.EXPECT().ListChildren(gomock.Any(), root, gomock.Any()).Return(nil, unauthorized("ListChildren"))
			},
			wantErr: "FailedPrecondition REMOTE_UNAUTHORIZED settings",
		},
		"Panda down": {
			req: &provisioningv1.SynchronizeRequest{Account: directCustomer(), AutoFill: true},
			remote: func(m *remotemock.MockRemote) {
				m.EXPECT().ListChildren(gomock.Any(), root, gomock.Any()).Return(nil, unavailable("ListChildren"))
			},
			wantErr: "Unavailable REMOTE_UNAVAILABLE",
		},
		"CreateAccount answer lost twice: UNAVAILABLE, nothing more written": {
			req: &provisioningv1.SynchronizeRequest{Account: directCustomer(), AutoFill: true},
			remote: func(m *remotemock.MockRemote) {
				gomock.InOrder(
					expectNoPriorAccount(m, root, "Acme Corp", panda.AccountTypeSubscriber),
					m.EXPECT().CreateAccount(gomock.Any(), root, janeAccount).Return(nil, lostAnswer("CreateAccount")),
					expectNoPriorAccount(m, root, "Acme Corp", panda.AccountTypeSubscriber),
					m.EXPECT().CreateAccount(gomock.Any(), root, janeAccount).Return(nil, lostAnswer("CreateAccount")),
					expectNoPriorAccount(m, root, "Acme Corp", panda.AccountTypeSubscriber),
				)
			},
			wantErr: "Unavailable REMOTE_UNAVAILABLE",
		},
		"CreateAccount answer lost twice, the second committed: found after the last attempt, not left behind": {
			req: &provisioningv1.SynchronizeRequest{Account: directCustomer(), AutoFill: true},
			remote: func(m *remotemock.MockRemote) {
				gomock.InOrder(
					expectNoPriorAccount(m, root, "Acme Corp", panda.AccountTypeSubscriber),
					m.EXPECT().CreateAccount(gomock.Any(), root, janeAccount).Return(nil, lostAnswer("CreateAccount")),
					expectNoPriorAccount(m, root, "Acme Corp", panda.AccountTypeSubscriber),
					m.EXPECT().CreateAccount(gomock.Any(), root, janeAccount).Return(nil, lostAnswer("CreateAccount")),
					m.EXPECT().ListChildren(gomock.Any(), root, gomock.Any()).Return(&panda.AccountPage{Total: 1, Accounts: []panda.RemoteAccount{
						{ID: newPanda, ParentID: root, Type: 2, Name: "Acme Corp", Email: "jane.doe@acme.example"},
					}}, nil),
					m.EXPECT().ListOperators(gomock.Any(), newPanda).Return(nil, nil),
					expectCreateOperator(m, janeOp, "TX-1"),
					expectTx(m, "TX-1", panda.TransactionSuccess, ""),
				)
			},
			want:        record(stSynced, newPanda, root, janeValues, msgSynced),
			wantCreated: true,
		},
		"CreateAccount answer lost, two new look-alikes appeared: not provable, UNAVAILABLE": {
			req: &provisioningv1.SynchronizeRequest{Account: directCustomer(), AutoFill: true},
			remote: func(m *remotemock.MockRemote) {
				gomock.InOrder(
					m.EXPECT().ListChildren(gomock.Any(), root, gomock.Any()).Return(&panda.AccountPage{Total: 1, Accounts: []panda.RemoteAccount{
						{ID: "ACC-1111111", ParentID: root, Type: 2, Name: "Acme Corp", Email: "jane.doe@acme.example"},
					}}, nil),
					m.EXPECT().CreateAccount(gomock.Any(), root, janeAccount).Return(nil, lostAnswer("CreateAccount")),
					m.EXPECT().ListChildren(gomock.Any(), root, gomock.Any()).Return(&panda.AccountPage{Total: 3, Accounts: []panda.RemoteAccount{
						{ID: "ACC-1111111", ParentID: root, Type: 2, Name: "Acme Corp", Email: "jane.doe@acme.example"},
						{ID: "ACC-2222222", ParentID: root, Type: 2, Name: "Acme Corp", Email: "jane.doe@acme.example"},
						{ID: "ACC-3333333", ParentID: root, Type: 2, Name: "Acme Corp", Email: "jane.doe@acme.example"},
					}}, nil),
				)
				m.EXPECT().ListOperators(gomock.Any(), "ACC-2222222").Return(nil, nil)
				m.EXPECT().ListOperators(gomock.Any(), "ACC-3333333").Return(nil, nil)
			},
			wantErr: "Unavailable REMOTE_UNAVAILABLE",
		},
		"CreateAccount answer lost, the old look-alike is not ours: created once more": {
			req: &provisioningv1.SynchronizeRequest{Account: directCustomer(), AutoFill: true},
			remote: func(m *remotemock.MockRemote) {
				lookAlike := &panda.AccountPage{Total: 1, Accounts: []panda.RemoteAccount{
					{ID: "ACC-1111111", ParentID: root, Type: 2, Name: "Acme Corp", Email: "jane.doe@acme.example"},
				}}
				gomock.InOrder(
					m.EXPECT().ListChildren(gomock.Any(), root, gomock.Any()).Return(lookAlike, nil),
					m.EXPECT().CreateAccount(gomock.Any(), root, janeAccount).Return(nil, lostAnswer("CreateAccount")),
					m.EXPECT().ListChildren(gomock.Any(), root, gomock.Any()).Return(lookAlike, nil),
					expectCreateAccount(m, root, janeAccount, newPanda),
					expectCreateOperator(m, janeOp, "TX-1"),
					expectTx(m, "TX-1", panda.TransactionSuccess, ""),
				)
			},
			want:        record(stSynced, newPanda, root, janeValues, msgSynced),
			wantCreated: true,
		},
		"rate limited": {
			req: &provisioningv1.SynchronizeRequest{Account: directCustomer(), AutoFill: true},
			remote: func(m *remotemock.MockRemote) {
				expectNoPriorAccount(m, root, "Acme Corp", panda.AccountTypeSubscriber)
				m.EXPECT().CreateAccount(gomock.Any(), root, gomock.Any()).Return(nil, rateLimited("CreateAccount"))
			},
			wantErr: "ResourceExhausted RATE_LIMITED",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a, m := newMocked(t, tc.settings...)
			if tc.remote != nil {
				tc.remote(m)
			}
			resp, err := a.Synchronize(context.Background(), tc.req)
			if got := errKey(err); tc.wantErr != "" || err != nil {
				if got != tc.wantErr {
					t.Fatalf("error = %q (%v), want %q", got, err, tc.wantErr)
				}
				return
			}
			if diff := cmp.Diff(tc.want, resp.GetRecord(), protocmp.Transform(), protocmp.IgnoreFields(&provisioningv1.SyncRecord{}, "private")); diff != "" {
				t.Errorf("record (-want +got):\n%s", diff)
			}
			if resp.GetCreated() != tc.wantCreated {
				t.Errorf("created = %v, want %v", resp.GetCreated(), tc.wantCreated)
			}
			if resp.GetUpdated() != tc.wantUpdated {
				t.Errorf("updated = %v, want %v", resp.GetUpdated(), tc.wantUpdated)
			}
			if pending := resp.GetRecord().GetStatus() == stPending; pending != strings.Contains(string(resp.GetRecord().GetPrivate()), `"tx"`) {
				t.Errorf("private = %q with status %v: only a PENDING record carries a transaction", resp.GetRecord().GetPrivate(), resp.GetRecord().GetStatus())
			}
		})
	}
}

func withAccount(req panda.CreateOperatorRequest, id string) panda.CreateOperatorRequest {
	req.AccountID = id
	return req
}

func withUsername(req panda.CreateOperatorRequest, u string) panda.CreateOperatorRequest {
	req.Username = u
	return req
}

func withPrivate(r *provisioningv1.SyncRecord, private string) *provisioningv1.SyncRecord {
	r.Private = []byte(private)
	return r
}

func TestSynchronizeCallerDeadline(t *testing.T) {
	t.Parallel()
	a, m := newMocked(t)
	ctx, cancel := context.WithCancel(context.Background())
	m.EXPECT().ListChildren(gomock.Any(), root, gomock.Any()).DoAndReturn(func(ctx context.Context, _ string, _ panda.ListChildrenOptions) (*panda.AccountPage, error) {
		cancel()
		return nil, &panda.RemoteError{Kind: panda.ErrUnavailable, Message: "gave up", Err: context.Canceled}
	})
	_, err := a.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: directCustomer(), AutoFill: true})
	wantCode(t, err, codes.Canceled)

	ctx, cancel = context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	// Usually the deadline passes inside the request; on a loaded machine it
	// may pass before the adapter sends it: DEADLINE_EXCEEDED either way.
	m.EXPECT().ListChildren(gomock.Any(), root, gomock.Any()).DoAndReturn(func(ctx context.Context, _ string, _ panda.ListChildrenOptions) (*panda.AccountPage, error) {
		<-ctx.Done()
		return nil, &panda.RemoteError{Kind: panda.ErrUnavailable, Message: "gave up", Err: ctx.Err()}
	}).MaxTimes(1)
	_, err = a.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: directCustomer(), AutoFill: true})
	wantCode(t, err, codes.DeadlineExceeded)
}

// TestSynchronizeSerialized: a call queued behind another for the same
// account starts from the first call's record, so it costs one request and
// creates nothing.
func TestSynchronizeSerialized(t *testing.T) {
	t.Parallel()
	a, m := newMocked(t)
	release := make(chan struct{})
	gomock.InOrder(
		expectNoPriorAccount(m, root, "Acme Corp", panda.AccountTypeSubscriber).Do(func(context.Context, string, panda.ListChildrenOptions) { <-release }),
		expectCreateAccount(m, root, janeAccount, newPanda),
		expectCreateOperator(m, janeOp, "TX-1"),
		expectTx(m, "TX-1", panda.TransactionSuccess, ""),
		m.EXPECT().GetOperator(gomock.Any(), "jane.doe").Return(&panda.Operator{Username: "jane.doe", AccountID: newPanda}, nil),
		m.EXPECT().GetAccount(gomock.Any(), newPanda).Return(&panda.RemoteAccount{ID: newPanda, ParentID: root, Type: panda.AccountTypeSubscriber, Name: "Acme Corp", FirstName: "Jane", LastName: "Doe", Email: "jane.doe@acme.example"}, nil),
	)
	req := &provisioningv1.SynchronizeRequest{Account: directCustomer(), AutoFill: true}
	type result struct {
		resp *provisioningv1.SynchronizeResponse
		err  error
	}
	results := make(chan result, 2)
	for range 2 {
		go func() {
			resp, err := a.Synchronize(context.Background(), req)
			results <- result{resp, err}
		}()
	}
	for a.LockRefs("C-100") < 2 { // until the second call queues
		time.Sleep(time.Millisecond)
	}
	close(release)
	created := 0
	for range 2 {
		r := <-results
		if r.err != nil {
			t.Fatal(r.err)
		}
		if r.resp.GetCreated() {
			created++
		}
		if r.resp.GetRecord().GetRemoteId() != newPanda {
			t.Errorf("remote_id = %q", r.resp.GetRecord().GetRemoteId())
		}
	}
	if created != 1 {
		t.Errorf("%d calls report created, want 1", created)
	}
}

// TestSynchronizeTakenUsernameRetry: without a username check before the
// create, a chosen username found taken costs the account just created; it
// is deleted, and the caller's retry with another username creates afresh.
// When the delete fails, the journal keeps the account and the retry
// reuses it (then, with an own account, the username is checked first).
func TestSynchronizeTakenUsernameRetry(t *testing.T) {
	t.Parallel()
	other := map[string]string{"role": "User", "username": "jane.d2"}
	tests := map[string]struct {
		deleteErr error
		retry     func(m *remotemock.MockRemote) []any
		wantID    string
	}{
		"deleted: the retry creates a new account and does not look at the deleted one": {
			retry: func(m *remotemock.MockRemote) []any {
				return []any{
					expectNoPriorAccount(m, root, "Acme Corp", panda.AccountTypeSubscriber),
					expectCreateAccount(m, root, janeAccount, "ACC-2000002"),
					expectCreateOperator(m, panda.CreateOperatorRequest{Username: "jane.d2", AccountID: "ACC-2000002", FirstName: "Jane", LastName: "Doe", Email: "jane.doe@acme.example", Role: panda.OperatorAdministrator}, "TX-2"),
					expectTx(m, "TX-2", panda.TransactionSuccess, ""),
				}
			},
			wantID: "ACC-2000002",
		},
		"delete failed: the retry reuses the journaled account": {
			deleteErr: unavailable("DeleteAccount"),
			retry: func(m *remotemock.MockRemote) []any {
				return []any{
					expectFree(m, "jane.d2"),
					m.EXPECT().GetAccount(gomock.Any(), newPanda).Return(janeRemote(), nil),
					m.EXPECT().ListOperators(gomock.Any(), newPanda).Return(nil, nil),
					expectCreateOperator(m, withUsername(janeOp, "jane.d2"), "TX-2"),
					expectTx(m, "TX-2", panda.TransactionSuccess, ""),
				}
			},
			wantID: newPanda,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a, m := newMocked(t)
			calls := []any{
				expectNoPriorAccount(m, root, "Acme Corp", panda.AccountTypeSubscriber),
				expectCreateAccount(m, root, janeAccount, newPanda),
				expectCreateOperator(m, janeOp, "TX-1"),
				expectTx(m, "TX-1", panda.TransactionFailed, panda.TxErrUsernameTaken),
				m.EXPECT().GetOperator(gomock.Any(), "jane.doe").Return(&panda.Operator{Username: "jane.doe", AccountID: "ACC-5555555"}, nil),
				m.EXPECT().DeleteAccount(gomock.Any(), newPanda).Return(tc.deleteErr),
			}
			gomock.InOrder(append(calls, tc.retry(m)...)...)
			_, err := a.Synchronize(context.Background(), &provisioningv1.SynchronizeRequest{Account: directCustomer(), Values: janeValues})
			if got := errKey(err); got != "AlreadyExists USERNAME_TAKEN username" {
				t.Fatalf("first call: %q (%v)", got, err)
			}
			resp, err := a.Synchronize(context.Background(), &provisioningv1.SynchronizeRequest{Account: directCustomer(), Values: other})
			if err != nil {
				t.Fatal(err)
			}
			if !resp.GetCreated() || resp.GetRecord().GetRemoteId() != tc.wantID || resp.GetRecord().GetValues()["username"] != "jane.d2" {
				t.Errorf("retry answered %v, want account %s with jane.d2 created", resp, tc.wantID)
			}
		})
	}
}

// janeRemote is the direct customer's Panda account as Synchronize made it.
func janeRemote() *panda.RemoteAccount {
	return &panda.RemoteAccount{ID: newPanda, ParentID: root, Type: panda.AccountTypeSubscriber, Name: "Acme Corp", FirstName: "Jane", LastName: "Doe", Email: "jane.doe@acme.example"}
}

// renamed is the direct customer with a new company name, contact and email.
func renamed() *provisioningv1.Account {
	acc := directCustomer()
	acc.Name, acc.CorporateEmail = "Acme Group", "it@acme-group.example"
	acc.Contact.FirstName = "Juana"
	return acc
}

func withEmail(acc *provisioningv1.Account, email string) *provisioningv1.Account {
	acc.CorporateEmail = email
	return acc
}

func withParent(acc *provisioningv1.Account, parent string) *provisioningv1.Account {
	acc.ParentId = parent
	return acc
}

func withType(acc *provisioningv1.Account, typ provisioningv1.AccountType) *provisioningv1.Account {
	acc.Type = typ
	return acc
}

func withReason(rec *provisioningv1.SyncRecord, reason string) *provisioningv1.SyncRecord {
	rec.ErrorReason = reason
	return rec
}

func withUpdatedAt(rec *provisioningv1.SyncRecord, at time.Time) *provisioningv1.SyncRecord {
	out := proto.CloneOf(rec)
	out.UpdatedAt = timestamppb.New(at)
	return out
}
