package plugin

import "google.golang.org/grpc"

// FlowControlWindow is the HTTP/2 flow-control window, per call and per
// connection, of both ends of the host-plugin connection (and of the
// daemon's own server). A window set this way also turns off gRPC's
// bandwidth-delay estimator, which otherwise sends a PING, and waits for
// its ACK, after the first data of nearly every call: on a connection that
// carries one small request and one small answer at a time, one more frame
// each way to write, read and wake a goroutine for. On loopback the
// estimator has nothing to learn: 4 MiB is the largest request the host
// forwards to a plugin, so no call waits for a window update.
const FlowControlWindow = 4 << 20

// flowControlDialOptions are the host side's windows (see
// FlowControlWindow).
func flowControlDialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithInitialWindowSize(FlowControlWindow),
		grpc.WithInitialConnWindowSize(FlowControlWindow),
	}
}
