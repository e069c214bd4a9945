package loadtest

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
)

// Hierarchy is a generated population of BSS accounts: Resellers resellers
// with PerReseller end customers each, and Direct direct customers.
type Hierarchy struct {
	// Prefix starts every id, name and username, so that two populations
	// never collide in one simulator. Letters, digits, '.', '-' only.
	Prefix                         string
	Resellers, PerReseller, Direct int
}

// Account is one generated account and what it must become in Panda.
type Account struct {
	ID, ParentID string
	Reseller     bool
	Name, Email  string
	// Username is the operator the adapter must create for it.
	Username string
}

// Count is the number of accounts.
func (h Hierarchy) Count() int { return h.Resellers*(1+h.PerReseller) + h.Direct }

// Each calls fn for every account in file order: each reseller followed by
// its end customers, then the direct customers.
func (h Hierarchy) Each(fn func(Account)) {
	p := h.Prefix
	for r := range h.Resellers {
		rid := fmt.Sprintf("%sR%06d", p, r)
		fn(h.account(rid, "", true))
		for c := range h.PerReseller {
			fn(h.account(fmt.Sprintf("%s-C%03d", rid, c), rid, false))
		}
	}
	for d := range h.Direct {
		fn(h.account(fmt.Sprintf("%sD%06d", p, d), "", false))
	}
}

func (h Hierarchy) account(id, parent string, reseller bool) Account {
	kind := "Customer"
	if reseller {
		kind = "Reseller"
	}
	low := strings.ToLower(id)
	return Account{
		ID: id, ParentID: parent, Reseller: reseller,
		Name:     kind + " " + id,
		Email:    "it@" + low + ".example",
		Username: "op." + low,
	}
}

// Accounts returns every account, keyed by id.
func (h Hierarchy) Accounts() map[string]Account {
	m := make(map[string]Account, h.Count())
	h.Each(func(a Account) { m[a.ID] = a })
	return m
}

// Line is the sync-batch line of a: {"account": {...}, "values": {"username": ...}}.
func (a Account) Line() string {
	typ, parent := "ACCOUNT_TYPE_CUSTOMER", ""
	if a.Reseller {
		typ = "ACCOUNT_TYPE_RESELLER"
	}
	if a.ParentID != "" {
		parent = fmt.Sprintf(`, "parent_id": %q`, a.ParentID)
	}
	return fmt.Sprintf(`{"account": {"id": %q, "type": %q, "name": %q, "corporate_email": %q, "contact": {"first_name": "Load", "last_name": "Test"}, "country": "ES", "language": "es-ES"%s}, "values": {"username": %q}}`,
		a.ID, typ, a.Name, a.Email, parent, a.Username)
}

// Write writes the population as sync-batch JSON lines.
func (h Hierarchy) Write(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	h.Each(func(a Account) {
		// A bufio.Writer keeps its first error and Flush reports it.
		_, _ = bw.WriteString(a.Line())
		_ = bw.WriteByte('\n')
	})
	return bw.Flush()
}

// WriteFile writes the population to path.
func (h Hierarchy) WriteFile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := h.Write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
