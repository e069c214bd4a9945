package conformance_test

import (
	"strings"
	"testing"

	"github.com/cloudbss/provisioning/plugin/conformance"
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
		"complete":             {direct + res + end, ""},
		"as JSON":              {`{"direct_customer": {"account": {"id": "c", "type": "ACCOUNT_TYPE_CUSTOMER"}}, "reseller": {"account": {"id": "r", "type": 2}}, "end_customer": {"account": {"id": "e", "type": 1, "parentId": "r"}}}`, ""},
		"unknown key":          {direct + res + end + "state_ulr: http://x\n", "state_ulr"},
		"unknown account key":  {direct + res + "end_customer: {account: {id: e, type: ACCOUNT_TYPE_CUSTOMER, parent: r}}\n", "parent"},
		"no reseller":          {direct + end, "fixture reseller: account is missing"},
		"reseller as customer": {direct + "reseller: {account: {id: r, type: ACCOUNT_TYPE_CUSTOMER}}\n" + end, "want ACCOUNT_TYPE_RESELLER"},
		"no id":                {"direct_customer: {account: {type: ACCOUNT_TYPE_CUSTOMER}}\n" + res + end, "account.id is empty"},
		"foreign parent":       {direct + res + "end_customer: {account: {id: e, type: ACCOUNT_TYPE_CUSTOMER, parent_id: x}}\n", `want the reseller's id "r"`},
		"direct with a parent": {"direct_customer: {account: {id: c, type: ACCOUNT_TYPE_CUSTOMER, parent_id: r}}\n" + res + end, "must have no parent_id"},
		"not YAML":             {"direct_customer: [", "yaml"},
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
