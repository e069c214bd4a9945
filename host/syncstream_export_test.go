package host

// SyncStreams reports how many Synchronize streams are open to the current
// process of the plugin named name, and whether that process refused the
// RPC (the host then calls it unary).
func (h *Host) SyncStreams(name string) (open int, refused bool) {
	s := h.plugins[name]
	s.mu.Lock()
	inst := s.cur
	s.mu.Unlock()
	if inst == nil {
		return 0, false
	}
	inst.streams.mu.Lock()
	defer inst.streams.mu.Unlock()
	return len(inst.streams.open), inst.streams.off
}
