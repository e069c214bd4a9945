package host

import "testing"

func TestIdempotentFromDescriptor(t *testing.T) {
	t.Parallel()
	for m, want := range map[string]bool{
		"/provisioning.v1.ProvisioningAdapter/GetPluginInfo":       true,
		"/provisioning.v1.ProvisioningAdapter/Probe":               true,
		"/provisioning.v1.ProvisioningAdapter/GetSyncOptions":      true,
		"/provisioning.v1.ProvisioningAdapter/ValidateSyncOptions": true,
		"/provisioning.v1.ProvisioningAdapter/GetSyncStatus":       true,
		"/provisioning.v1.ProvisioningAdapter/Synchronize":         true,
		"/provisioning.v1.ProvisioningAdapter/Nope":                false,
		"/grpc.health.v1.Health/Check":                             false, // no idempotency_level declared
		"garbage":                                                  false,
	} {
		if got := idempotent(m); got != want {
			t.Errorf("idempotent(%s) = %v, want %v", m, got, want)
		}
	}
}
