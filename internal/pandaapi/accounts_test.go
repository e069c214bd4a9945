package pandaapi_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudbss/provisioning/internal/pandaapi"
	"github.com/cloudbss/provisioning/internal/pandasim"
)

func TestCreateAccountRules(t *testing.T) {
	t.Parallel()
	_, url := newSim(t)
	c := newClient(t, url)
	// root → sp1 → sp2 → (sub3 | sp3); sub under root.
	sp1 := mustCreate(t, c, root, pandaapi.AccountTypeServiceProvider, "sp1")
	sp2 := mustCreate(t, c, sp1.ID, pandaapi.AccountTypeServiceProvider, "sp2")
	sp3 := mustCreate(t, c, sp2.ID, pandaapi.AccountTypeServiceProvider, "sp3")
	sub := mustCreate(t, c, root, pandaapi.AccountTypeSubscriber, "sub")

	tests := map[string]struct {
		parent   string
		req      pandaapi.CreateAccountRequest
		wantKind string
		wantCode string
	}{
		"subscriber under root": {parent: root, req: pandaapi.CreateAccountRequest{Type: 2, Name: "a", Email: "a@x.io"}},
		"provider at tier 3":    {parent: sp2.ID, req: pandaapi.CreateAccountRequest{Type: 1, Name: "a", Email: "a@x.io"}},
		"subscriber at tier 3":  {parent: sp2.ID, req: pandaapi.CreateAccountRequest{Type: 2, Name: "a", Email: "a@x.io"}},
		"tier 4 is refused":     {parent: sp3.ID, req: pandaapi.CreateAccountRequest{Type: 2, Name: "a", Email: "a@x.io"}, wantKind: "conflict", wantCode: pandasim.CodeTierLimit},
		"child of subscriber":   {parent: sub.ID, req: pandaapi.CreateAccountRequest{Type: 2, Name: "a", Email: "a@x.io"}, wantKind: "conflict", wantCode: pandasim.CodeParentIsSubscriber},
		"unknown parent":        {parent: "ACC-9999999", req: pandaapi.CreateAccountRequest{Type: 2, Name: "a", Email: "a@x.io"}, wantKind: "not found"},
		"bad type":              {parent: root, req: pandaapi.CreateAccountRequest{Type: 3, Name: "a", Email: "a@x.io"}, wantKind: "invalid request"},
		"no name":               {parent: root, req: pandaapi.CreateAccountRequest{Type: 2, Email: "a@x.io"}, wantKind: "invalid request"},
		"bad email":             {parent: root, req: pandaapi.CreateAccountRequest{Type: 2, Name: "a", Email: "nope"}, wantKind: "invalid request"},
		"empty parent":          {parent: "", req: pandaapi.CreateAccountRequest{Type: 2, Name: "a", Email: "a@x.io"}, wantKind: "invalid request"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := c.CreateAccount(ctxT(t), tc.parent, tc.req)
			if diff := cmp.Diff(tc.wantKind, kindOf(err)); diff != "" {
				t.Fatalf("error kind (-want +got):\n%s", diff)
			}
			if err != nil {
				var pe *pandaapi.Error
				if !errors.As(err, &pe) || pe.Retryable() || pe.Code != tc.wantCode && tc.wantCode != "" {
					t.Errorf("error = %#v; want a non-retryable *pandaapi.Error with code %q", err, tc.wantCode)
				}
				return
			}
			want := pandaapi.Account{ID: got.ID, ParentID: tc.parent, Type: tc.req.Type, Name: tc.req.Name, Email: tc.req.Email}
			if diff := cmp.Diff(want, *got); diff != "" {
				t.Errorf("account (-want +got):\n%s", diff)
			}
			if len(got.ID) != len("ACC-1234567") || got.ID[:4] != "ACC-" {
				t.Errorf("id %q does not look like ACC-1234567", got.ID)
			}
		})
	}
}

func TestMaxTiersConfigurable(t *testing.T) {
	t.Parallel()
	_, url := newSim(t, pandasim.WithMaxTiers(1))
	c := newClient(t, url)
	sp := mustCreate(t, c, root, pandaapi.AccountTypeServiceProvider, "sp")
	_, err := c.CreateAccount(ctxT(t), sp.ID, pandaapi.CreateAccountRequest{Type: 2, Name: "x", Email: "x@x.io"})
	if !errors.Is(err, pandaapi.ErrConflict) {
		t.Fatalf("tier 2 with max 1: err = %v, want ErrConflict", err)
	}
}

func TestGetListDeleteAccounts(t *testing.T) {
	t.Parallel()
	_, url := newSim(t)
	c := newClient(t, url)
	ctx := ctxT(t)
	sp := mustCreate(t, c, root, pandaapi.AccountTypeServiceProvider, "reseller")
	var subs []pandaapi.Account
	for _, n := range []string{"a", "b", "c", "b"} { // names need not be unique
		subs = append(subs, *mustCreate(t, c, sp.ID, pandaapi.AccountTypeSubscriber, n))
	}
	spChild := mustCreate(t, c, sp.ID, pandaapi.AccountTypeServiceProvider, "b")

	got, err := c.GetAccount(ctx, subs[0].ID)
	if err != nil || !cmp.Equal(*got, subs[0]) {
		t.Fatalf("GetAccount = %+v, %v; want %+v", got, err, subs[0])
	}
	if _, err := c.GetAccount(ctx, "ACC-0000002"); !errors.Is(err, pandaapi.ErrNotFound) {
		t.Errorf("GetAccount(unknown) err = %v, want ErrNotFound", err)
	}

	pages := map[string]struct {
		opts      pandaapi.ListChildrenOptions
		wantIDs   []string
		wantTotal int
	}{
		"all":              {wantIDs: []string{subs[0].ID, subs[1].ID, subs[2].ID, subs[3].ID, spChild.ID}, wantTotal: 5},
		"by name":          {opts: pandaapi.ListChildrenOptions{Name: "b"}, wantIDs: []string{subs[1].ID, subs[3].ID, spChild.ID}, wantTotal: 3},
		"by name and type": {opts: pandaapi.ListChildrenOptions{Name: "b", Type: pandaapi.AccountTypeSubscriber}, wantIDs: []string{subs[1].ID, subs[3].ID}, wantTotal: 2},
		"by type":          {opts: pandaapi.ListChildrenOptions{Type: pandaapi.AccountTypeServiceProvider}, wantIDs: []string{spChild.ID}, wantTotal: 1},
		"paged":            {opts: pandaapi.ListChildrenOptions{Offset: 1, Limit: 2}, wantIDs: []string{subs[1].ID, subs[2].ID}, wantTotal: 5},
		"past the end":     {opts: pandaapi.ListChildrenOptions{Offset: 9}, wantIDs: nil, wantTotal: 5},
		"no match":         {opts: pandaapi.ListChildrenOptions{Name: "zzz"}, wantIDs: nil, wantTotal: 0},
	}
	for name, tc := range pages {
		t.Run("list/"+name, func(t *testing.T) {
			page, err := c.ListChildren(ctx, sp.ID, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, a := range page.Accounts {
				ids = append(ids, a.ID)
			}
			if diff := cmp.Diff(tc.wantIDs, ids); diff != "" || page.Total != tc.wantTotal {
				t.Errorf("ids (-want +got):\n%s total = %d, want %d", diff, page.Total, tc.wantTotal)
			}
		})
	}
	if _, err := c.ListChildren(ctx, "ACC-0000002", pandaapi.ListChildrenOptions{}); !errors.Is(err, pandaapi.ErrNotFound) {
		t.Errorf("ListChildren(unknown) err = %v, want ErrNotFound", err)
	}

	deletes := []struct {
		id       string
		wantKind string
	}{
		{root, "conflict"},           // never the root
		{sp.ID, "conflict"},          // still has children
		{"ACC-0000002", "not found"}, // unknown
		{subs[0].ID, ""},
		{subs[0].ID, "not found"}, // already gone
	}
	for _, d := range deletes {
		if diff := cmp.Diff(d.wantKind, kindOf(c.DeleteAccount(ctx, d.id))); diff != "" {
			t.Errorf("DeleteAccount(%s) kind (-want +got):\n%s", d.id, diff)
		}
	}
	if _, err := c.GetAccount(ctx, subs[0].ID); !errors.Is(err, pandaapi.ErrNotFound) {
		t.Errorf("deleted account still there: %v", err)
	}
}
