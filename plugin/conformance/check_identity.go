package conformance

import (
	"maps"
	"slices"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// unknownSetting is a setting key no plugin has.
const unknownSetting = "conformance_unknown_setting"

func checkIdentityName(s *suite, t T) {
	info := s.needInfo(t)
	if !dnsLabel.MatchString(info.GetName()) {
		t.Errorf("name %q is not DNS-label-like (lower-case letters, digits and '-', starting with a letter, at most 63)", info.GetName())
	}
	if info.GetDisplayName() == "" {
		t.Errorf("display_name is empty")
	}
}

func checkIdentityVersion(s *suite, t T) {
	info := s.needInfo(t)
	if !semver.MatchString(info.GetVersion()) {
		t.Errorf("version %q is not a semantic version such as 1.2.0", info.GetVersion())
	}
}

func checkIdentityConfigFields(s *suite, t T) {
	info := s.needInfo(t)
	seen := map[string]bool{}
	for _, f := range info.GetConfigFields() {
		switch {
		case f.GetKey() == "":
			t.Errorf("a config field has no key")
		case seen[f.GetKey()]:
			t.Errorf("config field key %q appears twice", f.GetKey())
		}
		seen[f.GetKey()] = true
		if f.GetKind() == provisioningv1.FieldKind_FIELD_KIND_UNSPECIFIED {
			t.Errorf("config field %q has no kind", f.GetKey())
		}
		if f.GetSensitive() && f.GetValue() != "" {
			t.Errorf("config field %q is sensitive but carries a value", f.GetKey())
		}
	}
	caps := map[provisioningv1.Capability]bool{}
	for _, c := range info.GetCapabilities() {
		if c == provisioningv1.Capability_CAPABILITY_UNSPECIFIED || caps[c] {
			t.Errorf("capabilities hold %s twice or unspecified", c)
		}
		caps[c] = true
	}
	again, err := s.c.GetPluginInfo(s.ctx, &provisioningv1.GetPluginInfoRequest{})
	if err != nil {
		t.Fatalf("second GetPluginInfo: %v", err)
	}
	if !proto.Equal(info, again) {
		t.Errorf("GetPluginInfo answered differently the second time:\n%s", diffProto(info, again))
	}
}

// checkConfigureBefore calls every business RPC on a plugin nobody configured.
// Each must refuse: FAILED_PRECONDITION (or UNIMPLEMENTED for an RPC the
// plugin does not claim).
func checkConfigureBefore(s *suite, t T) {
	s.needInfo(t)
	if s.cfg.Configured {
		t.Skipf("the plugin was configured before the run (Config.Configured)")
	}
	a := s.unconfigured.Account
	calls := []struct {
		rpc  string
		call func() error
	}{
		{rpcProbe, func() error { _, err := s.c.Probe(s.ctx, &provisioningv1.ProbeRequest{}); return err }},
		{rpcGetSyncOptions, func() error {
			_, err := s.c.GetSyncOptions(s.ctx, &provisioningv1.GetSyncOptionsRequest{Account: a})
			return err
		}},
		{rpcValidateSyncOptions, func() error {
			_, err := s.c.ValidateSyncOptions(s.ctx, &provisioningv1.ValidateSyncOptionsRequest{Account: a, Values: s.unconfigured.Values})
			return err
		}},
		{rpcSynchronize, func() error {
			resp, err := s.c.Synchronize(s.ctx, &provisioningv1.SynchronizeRequest{Account: a, Values: s.unconfigured.Values, AutoFill: true})
			s.remember(resp.GetRecord())
			return err
		}},
		{rpcGetSyncStatus, func() error {
			_, err := s.c.GetSyncStatus(s.ctx, &provisioningv1.GetSyncStatusRequest{Account: a,
				Record: &provisioningv1.SyncRecord{Plugin: s.info.GetName(), AccountId: a.GetId(), Status: provisioningv1.SyncStatus_SYNC_STATUS_SYNCED, RemoteId: "conformance-remote-id"}})
			return err
		}},
		{rpcDeleteAccount, func() error {
			_, err := s.c.DeleteAccount(s.ctx, &provisioningv1.DeleteAccountRequest{Account: a,
				Record: &provisioningv1.SyncRecord{Plugin: s.info.GetName(), AccountId: a.GetId(), Status: provisioningv1.SyncStatus_SYNC_STATUS_SYNCED, RemoteId: "conformance-remote-id"}})
			return err
		}},
		{rpcGetServiceDefinition, func() error {
			_, err := s.c.GetServiceDefinition(s.ctx, &provisioningv1.GetServiceDefinitionRequest{})
			return err
		}},
	}
	unclaimed := s.unclaimed()
	for _, c := range calls {
		d := readError(c.call())
		switch {
		case d.code == codes.Unimplemented && unclaimed[c.rpc]:
		case d.code != codes.FailedPrecondition:
			t.Errorf("%s before Configure answered %s (%s), want FAILED_PRECONDITION", c.rpc, d.code, d.message)
		case d.reason == "":
			t.Errorf("%s before Configure: FAILED_PRECONDITION carries no ErrorInfo reason", c.rpc)
		}
	}
}

func checkConfigureInvalid(s *suite, t T) {
	info := s.needInfo(t)
	if s.cfg.Settings == nil && s.cfg.Configured {
		t.Skipf("no settings given and the plugin is configured already")
	}
	cases := map[string]map[string]string{}
	bad := maps.Clone(s.cfg.Settings)
	if bad == nil {
		bad = map[string]string{}
	}
	bad[unknownSetting] = "x"
	cases[unknownSetting] = bad
	for _, f := range info.GetConfigFields() {
		if _, ok := s.cfg.Settings[f.GetKey()]; f.GetRequired() && ok {
			missing := maps.Clone(s.cfg.Settings)
			delete(missing, f.GetKey())
			cases[f.GetKey()] = missing
		}
	}
	for _, key := range slices.Sorted(maps.Keys(cases)) {
		_, err := s.c.Configure(s.ctx, &provisioningv1.ConfigureRequest{Settings: cases[key]})
		d := readError(err)
		what := "without the required setting " + key
		if key == unknownSetting {
			what = "with the unknown setting " + key
		}
		switch {
		case d.code != codes.InvalidArgument:
			t.Errorf("Configure %s answered %s, want INVALID_ARGUMENT", what, d.code)
		case !slices.Contains(d.badRequest, key):
			t.Errorf("Configure %s: INVALID_ARGUMENT has no BadRequest violation on %q (violations: %q)", what, key, d.badRequest)
		}
	}
}

func checkConfigureValid(s *suite, t T) {
	s.needInfo(t)
	if s.cfg.Settings == nil && s.cfg.Configured {
		s.configured = true
		t.Skipf("no settings given and the plugin is configured already")
	}
	settings := s.cfg.Settings
	if settings == nil {
		settings = map[string]string{}
	}
	for i := range 2 {
		if _, err := s.c.Configure(s.ctx, &provisioningv1.ConfigureRequest{Settings: settings}); err != nil {
			t.Fatalf("Configure (call %d): %v", i+1, err)
		}
	}
	s.configured = true
}

// checkCapabilities calls each capability-gated RPC once with a request that
// has no side effects, and compares who answers with what is claimed.
func checkCapabilities(s *suite, t T) {
	s.needInfo(t)
	if !s.configured {
		t.Skipf("the plugin is not configured (configure.valid did not pass)")
	}
	a := s.direct.Account
	calls := map[string]func() error{
		rpcProbe: func() error { _, err := s.c.Probe(s.ctx, &provisioningv1.ProbeRequest{}); return err },
		rpcGetSyncOptions: func() error {
			_, err := s.c.GetSyncOptions(s.ctx, &provisioningv1.GetSyncOptionsRequest{Account: a})
			return err
		},
		rpcValidateSyncOptions: func() error {
			_, err := s.c.ValidateSyncOptions(s.ctx, &provisioningv1.ValidateSyncOptionsRequest{Account: a, Values: s.direct.Values})
			return err
		},
		// No account: must be refused before anything is created.
		rpcSynchronize: func() error { _, err := s.c.Synchronize(s.ctx, &provisioningv1.SynchronizeRequest{}); return err },
		rpcGetSyncStatus: func() error {
			_, err := s.c.GetSyncStatus(s.ctx, &provisioningv1.GetSyncStatusRequest{})
			return err
		},
		// No account, no record: must be refused before anything is deleted.
		rpcDeleteAccount: func() error {
			_, err := s.c.DeleteAccount(s.ctx, &provisioningv1.DeleteAccountRequest{})
			return err
		},
		rpcGetServiceDefinition: func() error {
			_, err := s.c.GetServiceDefinition(s.ctx, &provisioningv1.GetServiceDefinitionRequest{})
			return err
		},
	}
	for _, c := range slices.Sorted(maps.Keys(gatedRPCs)) {
		rpc := gatedRPCs[c]
		answered := readError(calls[rpc]()).code != codes.Unimplemented
		switch {
		case s.caps[c] && !answered:
			t.Errorf("claims %s but %s answers UNIMPLEMENTED", c, rpc)
		case !s.caps[c] && answered:
			t.Errorf("%s answers but %s is not claimed", rpc, c)
		}
	}
}

func checkProbe(s *suite, t T) {
	s.needCap(t, provisioningv1.Capability_CAPABILITY_PROBE)
	resp, err := s.c.Probe(s.ctx, &provisioningv1.ProbeRequest{})
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if !resp.GetReady() {
		t.Errorf("Probe: not ready: %s", resp.GetMessage())
	}
}
