package loadtest

import (
	"context"
	"fmt"
	"strings"

	"github.com/cloudbss/provisioning/internal/pandasim"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// Verification is what [Verify] found. OK means every account was
// synchronized exactly once with the right parent, and every host record
// agrees with the simulator.
type Verification struct {
	Expected int
	// InSim is the number of expected accounts found in the simulator
	// (exactly once each); Duplicates counts extra Panda accounts with an
	// expected account's name; Missing those with none.
	InSim, Duplicates, Missing int
	// Records is the number of expected accounts with a host record that
	// agrees with the simulator.
	Records int
	// Problems lists the first problems found, one per line.
	Problems []string
	more     int
}

// OK reports whether nothing is wrong.
func (v *Verification) OK() bool { return len(v.Problems) == 0 }

func (v *Verification) problem(format string, args ...any) {
	if len(v.Problems) < 20 {
		v.Problems = append(v.Problems, fmt.Sprintf(format, args...))
		return
	}
	v.more++
}

// String summarises the verification.
func (v *Verification) String() string {
	s := fmt.Sprintf("%d expected: %d in Panda exactly once, %d duplicates, %d missing; %d host records agree", v.Expected, v.InSim, v.Duplicates, v.Missing, v.Records)
	if len(v.Problems) > 0 {
		s += "\n  " + strings.Join(v.Problems, "\n  ")
		if v.more > 0 {
			s += fmt.Sprintf("\n  ... and %d more", v.more)
		}
	}
	return s
}

// Verify checks the accounts of h against the simulator's state: each BSS
// account is exactly one Panda account of the right type under the right
// parent (the root, or its reseller's Panda account) with exactly one
// operator, its username; and, when c is not nil, against the host's store:
// each account's record is SYNCED or ACTIVE with the simulator's ids.
func Verify(ctx context.Context, snap pandasim.Snapshot, h Hierarchy, c hostv1.HostServiceClient) (*Verification, error) {
	want := h.Accounts()
	v := &Verification{Expected: len(want)}

	byName := make(map[string][]pandasim.Account, len(want))
	for _, a := range snap.Accounts {
		if a.Name != "" {
			byName[a.Name] = append(byName[a.Name], a)
		}
	}
	opsByAccount := make(map[string][]pandasim.Operator, len(want))
	for _, op := range snap.Operators {
		opsByAccount[op.AccountID] = append(opsByAccount[op.AccountID], op)
	}
	remote := make(map[string]string, len(want)) // BSS id → Panda id
	for id, a := range want {
		got := byName[a.Name]
		switch {
		case len(got) == 0:
			v.Missing++
			v.problem("%s: no Panda account named %q", id, a.Name)
			continue
		case len(got) > 1:
			v.Duplicates += len(got) - 1
			ids := make([]string, 0, len(got))
			for _, g := range got {
				ids = append(ids, fmt.Sprintf("%s(%d operators)", g.ID, len(opsByAccount[g.ID])))
			}
			v.problem("%s: %d Panda accounts: %s", id, len(got), strings.Join(ids, ", "))
			continue
		}
		v.InSim++
		remote[id] = got[0].ID
	}
	for id, a := range want {
		pid, ok := remote[id]
		if !ok {
			continue
		}
		var pa pandasim.Account
		for _, g := range byName[a.Name] {
			pa = g
		}
		wantType := pandasim.TypeSubscriber
		if a.Reseller {
			wantType = pandasim.TypeServiceProvider
		}
		if pa.Type != wantType {
			v.problem("%s: Panda account %s has type %d, want %d", id, pid, pa.Type, wantType)
		}
		wantParent := snap.RootAccountID
		if a.ParentID != "" {
			wantParent = remote[a.ParentID]
		}
		if wantParent != "" && pa.ParentID != wantParent {
			v.problem("%s: Panda account %s is under %s, want %s", id, pid, pa.ParentID, wantParent)
		}
		ops := opsByAccount[pid]
		if len(ops) != 1 || !strings.EqualFold(ops[0].Username, a.Username) {
			names := make([]string, 0, len(ops))
			for _, op := range ops {
				names = append(names, op.Username)
			}
			v.problem("%s: Panda account %s has operators %v, want exactly [%s]", id, pid, names, a.Username)
		}
	}
	if c == nil {
		return v, nil
	}

	recs, err := ListRecords(ctx, c)
	if err != nil {
		return v, err
	}
	for id, a := range want {
		r, ok := recs[id]
		if !ok {
			v.problem("%s: no host record", id)
			continue
		}
		st := r.GetStatus()
		if st != provisioningv1.SyncStatus_SYNC_STATUS_SYNCED && st != provisioningv1.SyncStatus_SYNC_STATUS_ACTIVE {
			v.problem("%s: host record is %s: %s", id, st, r.GetMessage())
			continue
		}
		if pid, ok := remote[id]; ok && r.GetRemoteId() != pid {
			v.problem("%s: host record says Panda account %s, the simulator has %s", id, r.GetRemoteId(), pid)
			continue
		}
		wantParent := snap.RootAccountID
		if a.ParentID != "" {
			wantParent = remote[a.ParentID]
		}
		if r.GetRemoteParentId() != "" && wantParent != "" && r.GetRemoteParentId() != wantParent {
			v.problem("%s: host record says parent %s, the simulator has %s", id, r.GetRemoteParentId(), wantParent)
			continue
		}
		v.Records++
	}
	return v, nil
}

// ListRecords reads every sync record of the Panda plugin from the daemon.
func ListRecords(ctx context.Context, c hostv1.HostServiceClient) (map[string]*provisioningv1.SyncRecord, error) {
	out := map[string]*provisioningv1.SyncRecord{}
	token := ""
	for {
		resp, err := c.ListSyncRecords(ctx, &hostv1.ListSyncRecordsRequest{Plugin: PluginName, PageSize: 1000, PageToken: token})
		if err != nil {
			return nil, fmt.Errorf("ListSyncRecords: %w", err)
		}
		for _, r := range resp.GetRecords() {
			out[r.GetAccountId()] = r
		}
		token = resp.GetNextPageToken()
		if token == "" {
			return out, nil
		}
	}
}
