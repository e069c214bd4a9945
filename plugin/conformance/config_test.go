package conformance_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/cloudbss/provisioning/plugin/conformance"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

func TestParseFixturesErrors(t *testing.T) {
	t.Parallel()
	const (
		direct = "direct_customer: {account: {id: c, type: ACCOUNT_TYPE_CUSTOMER}}\n"
		res    = "reseller: {account: {id: r, type: ACCOUNT_TYPE_RESELLER}}\n"
		end    = "end_customer: {account: {id: e, type: ACCOUNT_TYPE_CUSTOMER, parent_id: r}}\n"
	)
	cases := map[string]struct {
		doc  string
		want string // in the error; "" for none
	}{
		"complete":              {direct + res + end, ""},
		"as JSON":               {`{"direct_customer": {"account": {"id": "c", "type": "ACCOUNT_TYPE_CUSTOMER"}}, "reseller": {"account": {"id": "r", "type": 2}}, "end_customer": {"account": {"id": "e", "type": 1, "parentId": "r"}}}`, ""},
		"unknown key":           {direct + res + end + "state_ulr: http://x\n", "state_ulr"},
		"unknown account key":   {direct + res + "end_customer: {account: {id: e, type: ACCOUNT_TYPE_CUSTOMER, parent: r}}\n", "parent"},
		"no reseller":           {direct + end, "fixture reseller: account is missing"},
		"reseller as customer":  {direct + "reseller: {account: {id: r, type: ACCOUNT_TYPE_CUSTOMER}}\n" + end, "want ACCOUNT_TYPE_RESELLER"},
		"no id":                 {"direct_customer: {account: {type: ACCOUNT_TYPE_CUSTOMER}}\n" + res + end, "account.id is empty"},
		"foreign parent":        {direct + res + "end_customer: {account: {id: e, type: ACCOUNT_TYPE_CUSTOMER, parent_id: x}}\n", `want the reseller's id "r"`},
		"direct with a parent":  {"direct_customer: {account: {id: c, type: ACCOUNT_TYPE_CUSTOMER, parent_id: r}}\n" + res + end, "must have no parent_id"},
		"not YAML":              {"direct_customer: [", "yaml"},
		"update and order":      {direct + res + end + "update: {name: New}\nsubscription: {product_id: PRO, quantity: 5, new_quantity: 8, addons: [{product_id: ARCHIVE, quantity: 5}]}\n", ""},
		"update not an account": {direct + res + end + "update: {title: New}\n", "update"},
		"order without product": {direct + res + end + "subscription: {quantity: 5}\n", "product_id is empty"},
		"order of nothing":      {direct + res + end + "subscription: {product_id: PRO}\n", "quantity is 0"},
		"same new quantity":     {direct + res + end + "subscription: {product_id: PRO, quantity: 5, new_quantity: 5}\n", "new_quantity is 5"},
		"add-on above a quantity": {direct + res + end + "subscription: {product_id: PRO, quantity: 5, new_quantity: 3, addons: [{product_id: ARCHIVE, quantity: 4}]}\n",
			"addons[0] needs a product_id and a quantity from 1 to 3"},
		"add-on not an addon": {direct + res + end + "subscription: {product_id: PRO, quantity: 5, addons: [{product: ARCHIVE}]}\n", "subscription.addons[0]"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := conformance.ParseFixtures([]byte(tc.doc))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("ParseFixtures: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("ParseFixtures: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestParseFixturesOrder(t *testing.T) {
	t.Parallel()
	fx, err := conformance.ParseFixtures([]byte(`
direct_customer: {account: {id: c, type: ACCOUNT_TYPE_CUSTOMER}}
reseller: {account: {id: r, type: ACCOUNT_TYPE_RESELLER}}
end_customer: {account: {id: e, type: ACCOUNT_TYPE_CUSTOMER, parent_id: r}}
update: {name: "New {{run}}", corporate_email: "new@example.com"}
subscription:
  product_id: PRO
  quantity: 5
  new_quantity: 8
  addons: [{id: a1, product_id: ARCHIVE, quantity: 5}]
  attributes: {term: monthly}
`))
	if err != nil {
		t.Fatal(err)
	}
	want := conformance.Fixtures{
		Update: &provisioningv1.Account{Name: "New {{run}}", CorporateEmail: "new@example.com"},
		Subscription: &conformance.SubscriptionFixture{
			ProductID: "PRO", Quantity: 5, NewQuantity: 8,
			Addons:     []*provisioningv1.Addon{{Id: "a1", ProductId: "ARCHIVE", Quantity: 5}},
			Attributes: map[string]string{"term": "monthly"},
		},
	}
	got := conformance.Fixtures{Update: fx.Update, Subscription: fx.Subscription}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("update and subscription (-want +got):\n%s", diff)
	}
}
