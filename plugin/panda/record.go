package panda

import (
	"encoding/json"
	"maps"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// privateState is SyncRecord.private: what a later call needs to resume work
// this plugin started. The caller stores it unread, possibly across plugin
// versions, so it is versioned JSON and unknown content is ignored rather
// than fatal.
type privateState struct {
	V int `json:"v"`
	// TxID is the pending operator transaction of a PENDING record.
	TxID string `json:"tx,omitempty"`
	// Since is when the transaction started.
	Since time.Time `json:"since,omitzero"`
	// Type is the BSS account type the record was synchronized as
	// ("customer" or "reseller"): a reseller may be a Panda User by choice,
	// so the role alone cannot tell a customer that became a reseller.
	Type string `json:"type,omitempty"`
}

// Values of privateState.Type.
const (
	privateTypeCustomer = "customer"
	privateTypeReseller = "reseller"
)

// privateTypeOf is privateState.Type for an account type.
func privateTypeOf(t provisioningv1.AccountType) string {
	if t == provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER {
		return privateTypeReseller
	}
	return privateTypeCustomer
}

// syncedType is the BSS account type rec was synchronized as; UNSPECIFIED
// when a record of an earlier version does not say and its role does not
// tell (a Panda Reseller is always a reseller).
func syncedType(rec *provisioningv1.SyncRecord) provisioningv1.AccountType {
	p, _ := decodePrivate(rec.GetPrivate())
	switch {
	case p.Type == privateTypeReseller, rec.GetValues()[FieldRole] == RoleReseller:
		return provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER
	case p.Type == privateTypeCustomer:
		return provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER
	}
	return provisioningv1.AccountType_ACCOUNT_TYPE_UNSPECIFIED
}

// settledPrivate is the private of a settled record: the synchronized type
// alone, nil when rec does not know it.
func settledPrivate(rec *provisioningv1.SyncRecord) []byte {
	p, ok := decodePrivate(rec.GetPrivate())
	if !ok || p.Type == "" {
		return nil
	}
	return encodePrivate(privateState{Type: p.Type})
}

// ownRemoteIDs are the Panda accounts provably accountID's own: the one
// its record names (unless the record says it was deleted) and the one the
// journal says this process created for it. Nothing else is ever adopted.
func ownRemoteIDs(rec *provisioningv1.SyncRecord, j *journal, accountID string) []string {
	var ids []string
	if id := rec.GetRemoteId(); id != "" && rec.GetStatus() != provisioningv1.SyncStatus_SYNC_STATUS_DELETED && rec.GetAccountId() == accountID {
		ids = append(ids, id)
	}
	if e, ok := j.get(accountID); ok && e.remoteID != "" && !slices.Contains(ids, e.remoteID) {
		ids = append(ids, e.remoteID)
	}
	return ids
}

const privateVersion = 1

func encodePrivate(p privateState) []byte {
	p.V = privateVersion
	b, _ := json.Marshal(p) // a struct of strings and a time cannot fail
	return b
}

// decodePrivate reads SyncRecord.private; ok is false when it is empty or
// not something this plugin wrote.
func decodePrivate(b []byte) (privateState, bool) {
	var p privateState
	if len(b) == 0 || json.Unmarshal(b, &p) != nil || p.V != privateVersion {
		return privateState{}, false
	}
	return p, true
}

// newRecord builds a record of this plugin.
func newRecord(accountID string, status provisioningv1.SyncStatus, remoteID, remoteParent string, values map[string]string, message string, now time.Time) *provisioningv1.SyncRecord {
	return &provisioningv1.SyncRecord{
		Plugin:         Name,
		AccountId:      accountID,
		Status:         status,
		RemoteId:       remoteID,
		RemoteParentId: remoteParent,
		Values:         maps.Clone(values),
		Message:        message,
		UpdatedAt:      timestamppb.New(now),
	}
}

// updated returns rec with a new status and message, or rec itself when
// neither changed, so that updated_at only moves when the record does.
func updated(rec *provisioningv1.SyncRecord, status provisioningv1.SyncStatus, message string, private []byte, now time.Time) *provisioningv1.SyncRecord {
	if rec.GetStatus() == status && rec.GetMessage() == message && string(rec.GetPrivate()) == string(private) {
		return rec
	}
	out := proto.CloneOf(rec)
	out.Plugin = Name
	out.Status = status
	out.Message = message
	out.Private = private
	out.UpdatedAt = timestamppb.New(now)
	if status != provisioningv1.SyncStatus_SYNC_STATUS_FAILED {
		out.ErrorReason = ""
	}
	return out
}

// Messages of settled records.
func syncedMessage(username string) string {
	return "operator " + username + " created; waiting for the customer to activate it from the emailed instructions"
}

func activeMessage(username string) string {
	return "operator " + username + " is active"
}

func pendingMessage(username string) string {
	return "Panda is still creating operator " + username
}

// statusOf is SYNCED or ACTIVE, from the operator's activation.
func statusOf(activated bool) provisioningv1.SyncStatus {
	if activated {
		return provisioningv1.SyncStatus_SYNC_STATUS_ACTIVE
	}
	return provisioningv1.SyncStatus_SYNC_STATUS_SYNCED
}

func settledMessage(username string, activated bool) string {
	if activated {
		return activeMessage(username)
	}
	return syncedMessage(username)
}

// refusedMessage says why Panda failed an operator transaction.
func refusedMessage(tx *Transaction) string {
	msg := "Panda refused the operator"
	if tx.ErrorCode != "" {
		msg += " (" + tx.ErrorCode + ")"
	}
	if tx.Error != "" && tx.Error != tx.ErrorCode {
		msg += ": " + tx.Error
	}
	return msg
}
