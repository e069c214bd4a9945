package host

import "context"

// SettleOnce runs one round of the settling loop for the plugin named name
// (PENDING sync and subscription records), so tests need no ticker.
func (h *Host) SettleOnce(ctx context.Context, name string) int { return h.settle(ctx, name) }
