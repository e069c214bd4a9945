package loadtest_test

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/cloudbss/provisioning/internal/loadtest"
	"github.com/cloudbss/provisioning/internal/pandasim"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// snapshot builds the simulator state a correct run leaves for h.
func snapshot(h loadtest.Hierarchy) pandasim.Snapshot {
	snap := pandasim.Snapshot{RootAccountID: "ACC-0000001", Accounts: []pandasim.Account{{ID: "ACC-0000001", Type: pandasim.TypeServiceProvider}}}
	ids := map[string]string{}
	n := 0
	h.Each(func(a loadtest.Account) {
		n++
		id := "ACC-" + strings.Repeat("0", 6) + string(rune('0'+n%10)) + a.ID
		ids[a.ID] = id
		parent, typ := snap.RootAccountID, pandasim.TypeSubscriber
		if a.ParentID != "" {
			parent = ids[a.ParentID]
		}
		if a.Reseller {
			typ = pandasim.TypeServiceProvider
		}
		snap.Accounts = append(snap.Accounts, pandasim.Account{ID: id, ParentID: parent, Type: typ, Name: a.Name, Email: a.Email})
		snap.Operators = append(snap.Operators, pandasim.Operator{Username: a.Username, AccountID: id})
	})
	return snap
}

func TestVerifyFindsWhatIsWrong(t *testing.T) {
	h := loadtest.Hierarchy{Prefix: "V", Resellers: 2, PerReseller: 2, Direct: 1}
	ctx := context.Background()
	cases := map[string]struct {
		mutate func(*pandasim.Snapshot)
		want   string // in the problems; "" means OK
	}{
		"correct": {mutate: func(*pandasim.Snapshot) {}},
		"duplicate account": {
			mutate: func(s *pandasim.Snapshot) {
				d := s.Accounts[1]
				d.ID = "ACC-9999999"
				s.Accounts = append(s.Accounts, d)
			},
			want: "2 Panda accounts",
		},
		"missing account": {
			mutate: func(s *pandasim.Snapshot) { s.Accounts = s.Accounts[:len(s.Accounts)-1] },
			want:   "no Panda account",
		},
		"wrong parent": {
			mutate: func(s *pandasim.Snapshot) { s.Accounts[2].ParentID = s.RootAccountID },
			want:   "is under",
		},
		"wrong type": {
			mutate: func(s *pandasim.Snapshot) { s.Accounts[1].Type = pandasim.TypeSubscriber },
			want:   "has type",
		},
		"second operator": {
			mutate: func(s *pandasim.Snapshot) {
				s.Operators = append(s.Operators, pandasim.Operator{Username: "extra.op", AccountID: s.Accounts[1].ID})
			},
			want: "operators",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			snap := snapshot(h)
			tc.mutate(&snap)
			v, err := loadtest.Verify(ctx, snap, h, nil)
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(v.Problems, "\n")
			switch {
			case tc.want == "" && !v.OK():
				t.Errorf("a correct state reported problems:\n%s", got)
			case tc.want != "" && !strings.Contains(got, tc.want):
				t.Errorf("problems %q do not mention %q", got, tc.want)
			}
		})
	}
}

func TestHierarchy(t *testing.T) {
	h := loadtest.Hierarchy{Prefix: "H", Resellers: 3, PerReseller: 4, Direct: 2}
	if h.Count() != 17 {
		t.Fatalf("Count = %d", h.Count())
	}
	seen := map[string]bool{}
	users := map[string]bool{}
	h.Each(func(a loadtest.Account) {
		if seen[a.ID] || users[a.Username] {
			t.Errorf("%s: id or username repeated", a.ID)
		}
		if a.ParentID != "" && !seen[a.ParentID] {
			t.Errorf("%s comes before its parent %s", a.ID, a.ParentID)
		}
		if l := len(a.Username); l < 5 || l > 65 {
			t.Errorf("%s: username %q is not 5 to 65 characters", a.ID, a.Username)
		}
		seen[a.ID], users[a.Username] = true, true
	})
}

func TestLinesAreBatchItems(t *testing.T) {
	h := loadtest.Hierarchy{Prefix: "L", Resellers: 1, PerReseller: 1, Direct: 1}
	h.Each(func(a loadtest.Account) {
		var item hostv1.BatchItem
		if err := protojson.Unmarshal([]byte(a.Line()), &item); err != nil {
			t.Fatalf("%s: %v", a.Line(), err)
		}
		acc := item.GetAccount()
		if acc.GetId() != a.ID || acc.GetParentId() != a.ParentID || acc.GetName() != a.Name || item.GetValues()["username"] != a.Username {
			t.Errorf("line %s decodes to %v", a.Line(), &item)
		}
		wantType := provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER
		if a.Reseller {
			wantType = provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER
		}
		if acc.GetType() != wantType {
			t.Errorf("%s: type %s", a.ID, acc.GetType())
		}
	})
}
