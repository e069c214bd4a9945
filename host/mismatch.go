package host

import (
	"bytes"
	"fmt"

	"github.com/cloudbss/provisioning/plugin/diag"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// checkRecord refuses a caller-supplied record given (at field, e.g.
// "request.record") that contradicts stored, the host's record of the same
// account (nil when none is stored): INVALID_ARGUMENT RECORD_MISMATCH on the
// first contradicting field. A nil given contradicts nothing.
//
// A record contradicts the stored one when it names other remote objects or
// other plugin state: plugin, account_id, remote_id, remote_parent_id or
// private, each when set, differ. Fields a caller's copy may just hold older
// values of (status, message, values, updated_at, error_reason) are not
// compared: the host acts on the stored record anyway, and refusing a stale
// PENDING copy of a record the settling loop has since finished would only
// break honest callers. When nothing is stored, any record that claims remote
// objects (a remote_id) or a status contradicts "never synchronized".
func checkRecord(plugin, field string, given, stored *provisioningv1.SyncRecord) error {
	if given == nil {
		return nil
	}
	if stored == nil {
		st := given.GetStatus()
		if given.GetRemoteId() != "" || (st != provisioningv1.SyncStatus_SYNC_STATUS_UNSPECIFIED && st != provisioningv1.SyncStatus_SYNC_STATUS_NOT_SYNCED) {
			return mismatch(field, "the host stores no record for this account (never synchronized)")
		}
		return nil
	}
	for _, f := range []struct {
		name        string
		given, have string
	}{
		{"plugin", given.GetPlugin(), plugin},
		{"account_id", given.GetAccountId(), stored.GetAccountId()},
		{"remote_id", given.GetRemoteId(), stored.GetRemoteId()},
		{"remote_parent_id", given.GetRemoteParentId(), stored.GetRemoteParentId()},
	} {
		if f.given != "" && f.given != f.have {
			return mismatch(field+"."+f.name, fmt.Sprintf("%q is not the stored %q", f.given, f.have))
		}
	}
	if len(given.GetPrivate()) > 0 && !bytes.Equal(given.GetPrivate(), stored.GetPrivate()) {
		return mismatch(field+".private", "not the stored plugin state")
	}
	return nil
}

// checkAncestors refuses caller-supplied ancestors that contradict stored,
// the ancestors the host built from its store: an ancestor naming another
// account than the stored chain at its position, or whose record contradicts
// the stored one (see checkRecord).
func checkAncestors(plugin string, given, stored []*provisioningv1.Ancestor) error {
	for i, g := range given {
		var s *provisioningv1.Ancestor
		if i < len(stored) {
			s = stored[i]
		}
		field := fmt.Sprintf("request.ancestors[%d]", i)
		if id := g.GetAccount().GetId(); id != "" && id != s.GetAccount().GetId() {
			if s == nil {
				return mismatch(field+".account.id", fmt.Sprintf("the stored account chain has no ancestor %q at this position", id))
			}
			return mismatch(field+".account.id", fmt.Sprintf("%q is not the stored ancestor %q", id, s.GetAccount().GetId()))
		}
		if err := checkRecord(plugin, field+".record", g.GetRecord(), s.GetRecord()); err != nil {
			return err
		}
	}
	return nil
}

func mismatch(field, why string) error {
	return diag.Host.InvalidArgument(field, diag.ReasonRecordMismatch,
		field+" contradicts the host's stored record: "+why+"; omit it (the host fills it from its store) or send the stored one")
}
