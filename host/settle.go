package host

import (
	"context"
	"time"

	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
)

// settleLoop refreshes PENDING records through GetSyncStatus (and PENDING
// subscription records through GetSubscriptionStatus) until they settle, so
// remote work that outlived its call still ends settled in the store.
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

// settle refreshes the PENDING records (sync and subscription records) of
// the plugin named name once, when the host has a store and the plugin is
// running, and this host holds the plugin's settle lock: with daemons
// sharing a store, one settles each round, and when it dies its lock is
// freed and the next round runs on another.
func (h *Host) settle(ctx context.Context, name string) int {
	s := h.plugins[name]
	if h.records == nil || s == nil || s.currentState() != hostv1.PluginState_PLUGIN_STATE_RUNNING {
		return 0
	}
	release, ok, err := h.records.locks.tryLock(ctx, settleLock(name))
	if err != nil {
		s.log.Warn("take the settle lock", "error", err)
		return 0
	}
	h.metrics.settled(name, ok)
	if !ok {
		s.log.Debug("another daemon settles PENDING records this round")
		return 0
	}
	defer release()
	return h.records.settlePending(ctx, name, s.log) + h.records.settlePendingSubscriptions(ctx, name, s.log)
}

func (s *supervisor) currentState() hostv1.PluginState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}
