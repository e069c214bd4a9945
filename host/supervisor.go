package host

import (
	"github.com/cloudbss/provisioning/host/catalog"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
	"google.golang.org/grpc"
)

type supervisor struct {
	h     *Host
	entry catalog.Entry
}

func newSupervisor(h *Host, e catalog.Entry) *supervisor { return &supervisor{h: h, entry: e} }

func (s *supervisor) conn() grpc.ClientConnInterface { return nil }

func (s *supervisor) describe() *hostv1.Plugin {
	return &hostv1.Plugin{Name: s.entry.Name, Path: s.entry.Path, Sha256: s.entry.SHA256}
}
