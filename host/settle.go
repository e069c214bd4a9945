package host

import (
	"context"
	"time"

	"github.com/cloudbss/provisioning/host/store"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// settleLoop refreshes PENDING records through GetSyncStatus until they
// settle, so a synchronization whose remote transaction outlived the call
// still ends SYNCED or FAILED in the store.
func (h *Host) settleLoop(ctx context.Context) {
	t := time.NewTicker(h.opts.settleInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for _, name := range h.order {
				h.settle(ctx, name)
			}
		}
	}
}

// SettlePending refreshes, once, every PENDING record of the plugin named
// name through its GetSyncStatus and stores the answers. It needs
// [WithStore]; it reports how many records it refreshed.
func (h *Host) SettlePending(ctx context.Context, name string) (int, error) {
	return h.settle(ctx, name), nil
}

func (h *Host) settle(ctx context.Context, name string) int {
	st := h.opts.store
	s := h.plugins[name]
	if st == nil || s == nil || s.currentState() != hostv1.PluginState_PLUGIN_STATE_RUNNING {
		return 0
	}
	client, _ := h.Plugin(name)
	n := 0
	q := store.Query{Plugin: name, Status: provisioningv1.SyncStatus_SYNC_STATUS_PENDING, PageSize: 100}
	for {
		page, err := st.List(ctx, q)
		if err != nil {
			s.log.Warn("list pending records", "error", err)
			return n
		}
		for _, e := range page.Entries {
			resp, err := client.GetSyncStatus(ctx, &provisioningv1.GetSyncStatusRequest{Record: e.Record, Account: e.Account})
			if err != nil {
				if ctx.Err() != nil {
					return n
				}
				s.log.Warn("refresh pending record", "account_id", e.Record.GetAccountId(), "error", err)
				continue
			}
			rec := resp.GetRecord()
			if rec == nil {
				continue
			}
			rec.Plugin, rec.AccountId = name, e.Record.GetAccountId()
			if err := st.Put(ctx, rec, nil); err != nil {
				s.log.Warn("store refreshed record", "account_id", rec.GetAccountId(), "error", err)
				continue
			}
			n++
			if rec.GetStatus() != provisioningv1.SyncStatus_SYNC_STATUS_PENDING {
				s.log.Info("pending record settled", "account_id", rec.GetAccountId(), "status", rec.GetStatus().String())
			}
		}
		if page.NextPageToken == "" {
			return n
		}
		q.PageToken = page.NextPageToken
	}
}

func (s *supervisor) currentState() hostv1.PluginState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}
