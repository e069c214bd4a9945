package conformance

import (
	"context"
	"errors"
	"io"
	"maps"
	"slices"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// checkSynchronizeStream: a Synchronize on SynchronizeStream answers what
// the unary call answers, a replay's record and an invalid request's error
// (code, reason, fields) alike; the stream answers each call once and ends
// OK after the client half-closes. Skipped when the plugin does not serve
// the RPC (it is optional: hosts then call Synchronize unary).
func checkSynchronizeStream(s *suite, t T) {
	s.needCap(t, provisioningv1.Capability_CAPABILITY_SYNCHRONIZE)
	if s.directRecord == nil {
		t.Skipf("needs the record of synchronize.idempotent, which did not pass")
	}
	fx := s.direct
	noID := proto.Clone(s.invalid.Account).(*provisioningv1.Account)
	noID.Id = ""
	calls := map[uint64]*provisioningv1.SynchronizeRequest{
		1: {Account: fx.Account, Values: s.values(t, fx, nil), Record: s.directRecord},
		2: {Account: noID, Values: s.values(t, s.invalid, nil)},
	}

	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.CallTimeout)
	defer cancel()
	answers, err := streamCalls(ctx, s.c, calls, s.cfg.CallTimeout)
	if status.Code(err) == codes.Unimplemented && len(answers) == 0 {
		t.Skipf("the plugin does not serve SynchronizeStream (optional: a host calls Synchronize unary)")
	}
	if err != nil {
		t.Fatalf("SynchronizeStream: %v", err)
	}
	for id, a := range answers {
		if calls[id] == nil {
			t.Errorf("SynchronizeStream answered call_id %d, which was never sent", id)
		}
		if len(a) != 1 {
			t.Errorf("SynchronizeStream answered call %d %d times, want once", id, len(a))
		}
	}
	get := func(id uint64) (*provisioningv1.SynchronizeResponse, error) {
		a := answers[id]
		if len(a) == 0 {
			t.Fatalf("SynchronizeStream never answered call %d", id)
		}
		r := a[0]
		var err error
		if e := r.GetError(); e != nil {
			err = status.ErrorProto(e)
			if err == nil {
				t.Errorf("SynchronizeStream answered call %d with an error whose code is OK", id)
			}
		} else if r.GetResponse() == nil {
			t.Errorf("SynchronizeStream answered call %d with neither a response nor an error", id)
		}
		s.c.observe(rpcSynchronize, r.GetResponse(), err)
		return r.GetResponse(), err
	}

	// The replay.
	sresp, serr := get(1)
	uresp, uerr := s.c.Synchronize(s.ctx, calls[1])
	switch {
	case uerr != nil:
		t.Errorf("unary replay: %v", uerr)
	case serr != nil:
		t.Errorf("a replay on the stream answered %v; unary answers the record", serr)
	default:
		if diff := sameRecord(uresp.GetRecord(), sresp.GetRecord()); diff != "" {
			t.Errorf("a replay on the stream answered another record than unary (-unary +stream):\n%s", diff)
		}
		if sresp.GetCreated() != uresp.GetCreated() || sresp.GetUpdated() != uresp.GetUpdated() {
			t.Errorf("a replay on the stream answered created=%v updated=%v, unary created=%v updated=%v",
				sresp.GetCreated(), sresp.GetUpdated(), uresp.GetCreated(), uresp.GetUpdated())
		}
	}

	// The invalid request.
	_, serr = get(2)
	_, uerr = s.c.Synchronize(s.ctx, calls[2])
	sd, ud := readError(serr), readError(uerr)
	slices.Sort(sd.badRequest)
	slices.Sort(ud.badRequest)
	if sd.code != ud.code || sd.reason != ud.reason || !slices.Equal(sd.badRequest, ud.badRequest) {
		t.Errorf("an invalid request on the stream answered %s %q (violations on %q); unary answers %s %q (violations on %q)",
			sd.code, sd.reason, sd.badRequest, ud.code, ud.reason, ud.badRequest)
	}
}

// streamCalls sends calls on one SynchronizeStream, each with timeout as
// its time left, half-closes the stream and collects the answers by call id
// until the stream ends: a nil error when it ends OK.
func streamCalls(ctx context.Context, c provisioningv1.ProvisioningAdapterClient, calls map[uint64]*provisioningv1.SynchronizeRequest, timeout time.Duration) (map[uint64][]*provisioningv1.SynchronizeStreamResponse, error) {
	st, err := c.SynchronizeStream(ctx)
	if err != nil {
		return nil, err
	}
	for _, id := range slices.Sorted(maps.Keys(calls)) {
		m := &provisioningv1.SynchronizeStreamRequest{CallId: id, Request: calls[id], Timeout: durationpb.New(timeout)}
		if err := st.Send(m); err != nil {
			break // the stream ended: Recv says how
		}
	}
	if err := st.CloseSend(); err != nil {
		return nil, err
	}
	answers := map[uint64][]*provisioningv1.SynchronizeStreamResponse{}
	for {
		r, err := st.Recv()
		if errors.Is(err, io.EOF) {
			return answers, nil
		}
		if err != nil {
			return answers, err
		}
		answers[r.GetCallId()] = append(answers[r.GetCallId()], r)
	}
}
