package main

import (
	"context"
	"log/slog"
	"time"

	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
)

// storeCheckInterval is how often the health check asks the store whether
// its database is still the one it opened and sound.
const storeCheckInterval = time.Second

// storeChecker is a store that can tell it can no longer keep records
// (the SQLite store: its file deleted, replaced or found corrupt).
type storeChecker interface{ Check(context.Context) error }

// watchStore turns the health of the daemon and of HostService NOT_SERVING
// for good once the store reports a damaged database, and logs the store's
// error (which names the file and what to do) once: a daemon that answers
// but keeps nothing must not look healthy to its supervisor.
func watchStore(ctx context.Context, st storeChecker, hs *health.Server, log *slog.Logger) {
	t := time.NewTicker(storeCheckInterval)
	defer t.Stop()
	for {
		if err := st.Check(ctx); err != nil && ctx.Err() == nil {
			log.Error("sync-record store cannot keep records; health is NOT_SERVING", "error", err)
			hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
			hs.SetServingStatus(hostv1.HostService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_NOT_SERVING)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
