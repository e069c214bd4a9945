package pandaapi_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http/httptest"
	"time"

	"github.com/cloudbss/provisioning/internal/pandaapi"
	"github.com/cloudbss/provisioning/internal/pandasim"
)

// Create a Panda Reseller, a Panda User under it and the user's
// administrator, against a simulator.
func Example() {
	sim, err := pandasim.New() // seeded: the ids below are stable
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	defer srv.Close()

	c, err := pandaapi.New(pandaapi.Config{
		BaseURL:  srv.URL,
		AccessID: pandasim.DefaultAccessID,
		Password: pandasim.DefaultPassword,
		APIKey:   pandasim.DefaultAPIKey,
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	reseller, err := c.CreateAccount(ctx, pandasim.DefaultRootAccountID, pandaapi.CreateAccountRequest{
		Type: pandaapi.AccountTypeServiceProvider, Name: "Reseller Ltd", Email: "ops@reseller.example",
	})
	if err != nil {
		log.Fatal(err)
	}
	user, err := c.CreateAccount(ctx, reseller.ID, pandaapi.CreateAccountRequest{
		Type: pandaapi.AccountTypeSubscriber, Name: "Acme", Email: "it@acme.example",
	})
	if err != nil {
		log.Fatal(err)
	}
	tx, err := c.CreateOperator(ctx, pandaapi.CreateOperatorRequest{
		Username: "acme.admin", AccountID: user.ID, Email: "it@acme.example", Role: pandaapi.RoleAdministrator,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("POST answered", tx.Status)
	tx, err = pandaapi.AwaitTransaction(ctx, c, tx.ID, 10*time.Millisecond)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("transaction", tx.Status)

	// A subscriber cannot have children.
	_, err = c.CreateAccount(ctx, user.ID, pandaapi.CreateAccountRequest{Type: pandaapi.AccountTypeSubscriber, Name: "x", Email: "x@x.example"})
	fmt.Println("child of a subscriber is a conflict:", errors.Is(err, pandaapi.ErrConflict))
	fmt.Println(reseller.ID, "→", user.ID)
	// Output:
	// POST answered PENDING
	// transaction SUCCESS
	// child of a subscriber is a conflict: true
	// ACC-7693732 → ACC-6164362
}

// Order licences for a reseller's end customer: the reseller's allocation
// is the stock its customers' allocations come from, and a refusal names
// the rule it broke.
func ExampleClient_CreateAllocation() {
	sim, err := pandasim.New(pandasim.WithRootInventory(map[string]int{"EPDR": 100}))
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	defer srv.Close()
	c, err := pandaapi.New(pandaapi.Config{BaseURL: srv.URL, AccessID: pandasim.DefaultAccessID, Password: pandasim.DefaultPassword, APIKey: pandasim.DefaultAPIKey})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	reseller, _ := c.CreateAccount(ctx, pandasim.DefaultRootAccountID, pandaapi.CreateAccountRequest{Type: pandaapi.AccountTypeServiceProvider, Name: "Reseller Ltd", Email: "ops@reseller.example"})
	user, _ := c.CreateAccount(ctx, reseller.ID, pandaapi.CreateAccountRequest{Type: pandaapi.AccountTypeSubscriber, Name: "Acme", Email: "it@acme.example"})

	epdr := func(n int) pandaapi.AllocationRequest {
		return pandaapi.AllocationRequest{Product: pandaapi.ProductEPDR, Type: pandaapi.AllocationSubscription, Quantity: n}
	}
	if _, err := c.CreateAllocation(ctx, reseller.ID, epdr(30)); err != nil {
		log.Fatal(err)
	}
	if _, err := c.CreateAllocation(ctx, user.ID, epdr(25)); err != nil {
		log.Fatal(err)
	}
	// More than the reseller has left.
	_, err = c.SetAllocationQuantity(ctx, user.ID, epdr(31))
	var pe *pandaapi.Error
	if errors.As(err, &pe) && errors.Is(err, pandaapi.ErrConflict) {
		fmt.Println("refused:", pe.Code)
	}
	sum, err := c.GetSoftwareSummary(ctx, reseller.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("reseller can still allocate", sum.Unallocated(pandaapi.ProductEPDR), "EPDR")
	// Output:
	// refused: INSUFFICIENT_INVENTORY
	// reseller can still allocate 5 EPDR
}
