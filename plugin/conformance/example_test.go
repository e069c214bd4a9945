package conformance_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/cloudbss/provisioning/plugin/conformance"
	"github.com/cloudbss/provisioning/plugin/plugintest"
)

// A plugin's own test: build its binary, launch it as a host would, and run
// every check as a subtest.
func ExampleRun() {
	_ = func(t *testing.T) { // func TestConformance(t *testing.T)
		bin := plugintest.Build(t, "./cmd/provisioning-plugin-ledger")
		p := plugintest.Launch(t, bin, nil)
		fx, err := conformance.LoadFixtures("testdata/fixtures.yaml")
		if err != nil {
			t.Fatal(err)
		}
		conformance.Run(t, p.Client, conformance.Config{
			Settings: map[string]string{"database": t.TempDir() + "/ledger.db"},
			Fixtures: fx,
		})
	}
}

func ExampleParseFixtures() {
	fx, err := conformance.ParseFixtures([]byte(`
direct_customer:
  account: {id: cust-1, type: ACCOUNT_TYPE_CUSTOMER, name: Acme, corporate_email: "it+{{run}}@acme.example"}
  values: {plan: premium}
reseller:
  account: {id: res-1, type: ACCOUNT_TYPE_RESELLER, name: Channel Co}
end_customer:
  account: {id: end-1, type: ACCOUNT_TYPE_CUSTOMER, name: Small Co, parentId: res-1}
update: {name: "Acme Renamed {{run}}"}
subscription:
  product_id: PRO
  quantity: 5
  new_quantity: 8
  addons: [{product_id: ARCHIVE, quantity: 5}]
state_url: http://127.0.0.1:8085/_sim/state
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(fx.DirectCustomer.Account.GetCorporateEmail(), fx.DirectCustomer.Values["plan"])
	fmt.Println(fx.EndCustomer.Account.GetParentId(), fx.StateURL)
	fmt.Println(fx.Update.GetName())
	sub := fx.Subscription
	fmt.Println(sub.ProductID, sub.Quantity, "->", sub.NewQuantity, "with", sub.Addons[0].GetProductId(), sub.Addons[0].GetQuantity())
	// Output:
	// it+{{run}}@acme.example premium
	// res-1 http://127.0.0.1:8085/_sim/state
	// Acme Renamed {{run}}
	// PRO 5 -> 8 with ARCHIVE 5
}

func ExampleReport_WriteText() {
	rep := &conformance.Report{Plugin: "ledger", Version: "1.0.0", RunID: "0a1b2c3d", Results: []conformance.Result{
		{Name: "identity.name", Status: conformance.Pass},
		{Name: "synchronize.idempotent", Status: conformance.Fail, Message: "Synchronize call 2 of 10 answered created=true again"},
		{Name: "secrets.never-echoed", Status: conformance.Skip, Message: "no sensitive setting with a value of 4 characters or more to look for"},
	}}
	_ = rep.WriteText(os.Stdout)
	fmt.Println("failed:", rep.Failed())
	// Output:
	// conformance of plugin "ledger" 1.0.0 (run 0a1b2c3d)
	// PASS  identity.name           0s
	// FAIL  synchronize.idempotent  0s
	//         Synchronize call 2 of 10 answered created=true again
	// SKIP  secrets.never-echoed    0s
	//         no sensitive setting with a value of 4 characters or more to look for
	// 1 passed, 1 failed, 1 skipped
	// failed: true
}
