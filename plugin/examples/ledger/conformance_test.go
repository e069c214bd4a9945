package ledger_test

import (
	"path/filepath"
	"testing"

	"github.com/cloudbss/provisioning/plugin/conformance"
	"github.com/cloudbss/provisioning/plugin/plugintest"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// TestMain removes the binaries plugintest.Build makes.
func TestMain(m *testing.M) { plugintest.Main(m) }

// TestConformance builds the real plugin binary, starts it as a host would
// (a subprocess, the go-plugin handshake, gRPC with AutoMTLS) and runs the
// whole conformance suite against it.
func TestConformance(t *testing.T) {
	bin := plugintest.Build(t, "./cmd/provisioning-plugin-ledger")
	p := plugintest.Launch(t, bin, nil)
	db := filepath.Join(t.TempDir(), "ledger.db")
	conformance.Run(t, p.Client, conformance.Config{
		Settings:  map[string]string{"database": db},
		Fixtures:  fixtures(),
		StateFunc: tableDump(db),
	})
}

// fixtures are the accounts the suite synchronizes in the ledger.
func fixtures() conformance.Fixtures {
	return conformance.Fixtures{
		DirectCustomer: conformance.Fixture{
			Account: &provisioningv1.Account{Id: "cust", Type: provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER, Name: "Acme"},
			Values:  map[string]string{"plan": "premium"},
		},
		Reseller: conformance.Fixture{
			Account: &provisioningv1.Account{Id: "res", Type: provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER, Name: "Channel Co"},
		},
		EndCustomer: conformance.Fixture{
			Account: &provisioningv1.Account{Id: "end", Type: provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER, Name: "Small Co", ParentId: "res"},
			Values:  map[string]string{"seats": "5", "note": "through Channel Co"},
		},
	}
}
