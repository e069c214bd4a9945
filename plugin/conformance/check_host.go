package conformance

import (
	"maps"
	"slices"

	"google.golang.org/grpc/codes"

	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// checkHostFailedRecords is the host's half of "failures are records too":
// a Synchronize the plugin refuses, made through the host, leaves a FAILED
// record with the refusal's reason, which ListSyncRecords lists, and a later
// success replaces it. It needs the host in the loop ([Config.Host]): the
// adapter alone stores nothing.
func checkHostFailedRecords(s *suite, t T) {
	s.needCap(t, provisioningv1.Capability_CAPABILITY_SYNCHRONIZE)
	h := s.cfg.Host
	if h == nil {
		t.Skipf("no Config.Host: this check runs through a provisioning host, which stores the records")
	}
	plugin := s.cfg.HostPlugin
	if plugin == "" {
		plugin = s.info.GetName()
	}
	fx := instantiate(s.cfg.Fixtures.DirectCustomer, s.cfg.RunID+"hf")
	vals := s.values(t, fx, nil)
	bad := maps.Clone(vals)
	bad[unknownValueKey] = "x"
	_, err := h.Synchronize(s.ctx, &hostv1.SynchronizeRequest{Plugin: plugin, Request: &provisioningv1.SynchronizeRequest{Account: fx.Account, Values: bad}})
	d := readError(err)
	if d.code != codes.InvalidArgument {
		t.Fatalf("Synchronize through the host with the unknown key %q answered %s (%s), want INVALID_ARGUMENT", unknownValueKey, d.code, d.message)
	}
	got, err := h.GetSyncRecord(s.ctx, &hostv1.GetSyncRecordRequest{Plugin: plugin, AccountId: fx.Account.GetId()})
	if err != nil {
		t.Fatalf("GetSyncRecord after the refused Synchronize: %v, want a FAILED record", err)
	}
	rec := got.GetRecord()
	switch {
	case rec.GetStatus() != provisioningv1.SyncStatus_SYNC_STATUS_FAILED:
		t.Errorf("the host stored the refused Synchronize as %s, want FAILED", rec.GetStatus())
	case rec.GetErrorReason() != d.reason || rec.GetErrorReason() == "":
		t.Errorf("the FAILED record's error_reason is %q, want the error's ErrorInfo reason %q", rec.GetErrorReason(), d.reason)
	case rec.GetMessage() == "":
		t.Errorf("the FAILED record has no message")
	}
	if !s.hostLists(t, plugin, fx.Account.GetId()) {
		t.Errorf("ListSyncRecords with status FAILED does not list account %q", fx.Account.GetId())
	}
	ok, err := h.Synchronize(s.ctx, &hostv1.SynchronizeRequest{Plugin: plugin, Request: &provisioningv1.SynchronizeRequest{Account: fx.Account, Values: vals}})
	if err != nil {
		t.Fatalf("Synchronize through the host with valid values: %v", err)
	}
	s.remember(ok.GetResponse().GetRecord())
	got, err = h.GetSyncRecord(s.ctx, &hostv1.GetSyncRecordRequest{Plugin: plugin, AccountId: fx.Account.GetId()})
	if err != nil {
		t.Fatalf("GetSyncRecord after the successful Synchronize: %v", err)
	}
	if rec := got.GetRecord(); rec.GetStatus() == provisioningv1.SyncStatus_SYNC_STATUS_FAILED || rec.GetErrorReason() != "" {
		t.Errorf("after a successful Synchronize the host still stores %s with error_reason %q, want the success to replace it", rec.GetStatus(), rec.GetErrorReason())
	}
}

// hostLists reports whether the host lists accountID among plugin's FAILED
// records.
func (s *suite) hostLists(t T, plugin, accountID string) bool {
	t.Helper()
	req := &hostv1.ListSyncRecordsRequest{Plugin: plugin, Status: provisioningv1.SyncStatus_SYNC_STATUS_FAILED, PageSize: 100}
	for {
		page, err := s.cfg.Host.ListSyncRecords(s.ctx, req)
		if err != nil {
			t.Fatalf("ListSyncRecords with status FAILED: %v", err)
		}
		if slices.ContainsFunc(page.GetRecords(), func(r *provisioningv1.SyncRecord) bool { return r.GetAccountId() == accountID }) {
			return true
		}
		if page.GetNextPageToken() == "" {
			return false
		}
		req.PageToken = page.GetNextPageToken()
	}
}
