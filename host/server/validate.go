package server

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/cloudbss/provisioning/plugin"
	"github.com/cloudbss/provisioning/plugin/diag"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// Limits on what the host accepts, checked once at its entry (see
// [GRPCOptions]) so that no oversized or unprintable key reaches a plugin,
// a vendor or the store.
const (
	// MaxIDLen bounds every identifier the store keys on or a plugin
	// forwards: plugin names, account, parent and subscription ids, and
	// every other field named id or *_id. Unbounded ids were stored and
	// sent to the vendor as they came (a 1 MB account id made every later
	// lookup 40x slower).
	MaxIDLen = 128
	// MaxPageTokenLen bounds page tokens, which the host issues itself
	// and keeps far shorter.
	MaxPageTokenLen = 1024
	// MaxForwardedBytes bounds a request the host forwards to a plugin in
	// one call (a unary request, one batch item): a plugin's gRPC server
	// receives at most 4 MiB, and a larger request would fail there with
	// RESOURCE_EXHAUSTED, which callers read as "retry later".
	MaxForwardedBytes = 4 << 20
	// MaxRequestBytes bounds any one request the host receives: a
	// SynchronizeBatch of about a million small items.
	MaxRequestBytes = 256 << 20
)

// invalidUTF8Field marks a request whose body did not decode because a
// string was not UTF-8: gRPC turns every codec error into INTERNAL, so the
// codec decodes such a request as empty with this unknown field, and the
// interceptors answer INVALID_ARGUMENT. The number is in the range .proto
// files cannot use, so no message declares it.
const invalidUTF8Field protowire.Number = 19999

// streamWorkers is how many goroutines serve incoming streams (calls) and
// stay for the next one: a call then runs on a goroutine whose stack has
// already grown, instead of a new one per call. More calls at once than
// workers each get a goroutine of their own, as without workers.
const streamWorkers = 32

// GRPCOptions returns the options a gRPC server serving [New] needs: the
// request size limit, and interceptors that check every request's
// identifiers and encoding before a handler runs, answering
// INVALID_ARGUMENT with a BadRequest field violation (reason
// INVALID_VALUE) per bad field.
func GRPCOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(MaxRequestBytes),
		grpc.NumStreamWorkers(streamWorkers),
		// Static windows: no bandwidth-delay PING per call (see
		// plugin.FlowControlWindow).
		grpc.InitialWindowSize(plugin.FlowControlWindow),
		grpc.InitialConnWindowSize(plugin.FlowControlWindow),
		grpc.ForceServerCodecV2(codec{encoding.GetCodecV2("proto")}),
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
			if err := checkRequest(req); err != nil {
				return nil, err
			}
			return next(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, next grpc.StreamHandler) error {
			return next(srv, checkedStream{ss})
		}),
	}
}

type checkedStream struct{ grpc.ServerStream }

func (s checkedStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	return checkRequest(m)
}

// codec is gRPC's proto codec, except that a request with a string that is
// not UTF-8 decodes as marked (see invalidUTF8Field) instead of failing.
type codec struct{ encoding.CodecV2 }

func (c codec) Unmarshal(data mem.BufferSlice, v any) error {
	err := c.CodecV2.Unmarshal(data, v)
	m, ok := v.(proto.Message)
	if err == nil || !ok || !strings.Contains(err.Error(), "UTF-8") {
		return err
	}
	proto.Reset(m)
	mark := protowire.AppendTag(nil, invalidUTF8Field, protowire.BytesType)
	m.ProtoReflect().SetUnknown(protowire.AppendString(mark, err.Error()))
	return nil
}

// checkRequest answers INVALID_ARGUMENT for a request that is not UTF-8,
// too large to forward, or has an identifier that is too long or not
// printable.
func checkRequest(req any) error {
	m, ok := req.(proto.Message)
	if !ok {
		return nil
	}
	var ds []*provisioningv1.Diagnostic
	if u := m.ProtoReflect().GetUnknown(); len(u) > 0 {
		if num, typ, n := protowire.ConsumeTag(u); n > 0 && num == invalidUTF8Field && typ == protowire.BytesType {
			return diag.InvalidArgument("request", diag.CodeInvalidValue, "the request has a string that is not valid UTF-8")
		}
	}
	if b, ok := m.(*hostv1.SynchronizeBatchRequest); ok {
		for i, it := range b.GetItems() {
			if n := proto.Size(it); n > MaxForwardedBytes {
				ds = append(ds, diag.Error("items["+strconv.Itoa(i)+"]", diag.CodeInvalidValue,
					fmt.Sprintf("the item is %d bytes, more than the %d a plugin accepts", n, MaxForwardedBytes), ""))
			}
		}
	} else if n := proto.Size(m); n > MaxForwardedBytes {
		ds = append(ds, diag.Error("request", diag.CodeInvalidValue,
			fmt.Sprintf("the request is %d bytes, more than the %d a plugin accepts", n, MaxForwardedBytes), ""))
	}
	walk(m.ProtoReflect(), "", &ds)
	return diag.ToError(ds)
}

// walk appends a diagnostic for each bad key field of m and its messages.
// Only populated fields are visited, so the walk is linear in the request.
func walk(m protoreflect.Message, prefix string, ds *[]*provisioningv1.Diagnostic) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		path := prefix + string(fd.Name())
		switch {
		case fd.IsMap():
			if fd.MapValue().Kind() == protoreflect.MessageKind {
				v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
					walk(mv.Message(), path+"["+strconv.Quote(k.String())+"].", ds)
					return true
				})
			}
		case fd.IsList():
			l := v.List()
			for i := range l.Len() {
				p := path + "[" + strconv.Itoa(i) + "]"
				switch fd.Kind() {
				case protoreflect.MessageKind, protoreflect.GroupKind:
					walk(l.Get(i).Message(), p+".", ds)
				case protoreflect.StringKind:
					checkKey(fd, p, l.Get(i).String(), ds)
				}
			}
		case fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind:
			walk(v.Message(), path+".", ds)
		case fd.Kind() == protoreflect.StringKind:
			checkKey(fd, path, v.String(), ds)
		}
		return true
	})
}

// checkKey checks s when fd is a key field: an identifier or a page token.
func checkKey(fd protoreflect.FieldDescriptor, path, s string, ds *[]*provisioningv1.Diagnostic) {
	name := string(fd.Name())
	limit := MaxIDLen
	switch {
	case name == "page_token":
		limit = MaxPageTokenLen
	case name == "id", name == "plugin", strings.HasSuffix(name, "_id"), strings.HasSuffix(name, "_ids"):
	default:
		return
	}
	if problem := badKey(s, limit); problem != "" {
		*ds = append(*ds, diag.Error(path, diag.CodeInvalidValue, path+" "+problem, ""))
	}
}

// badKey says what is wrong with key s, or "" when nothing is.
func badKey(s string, limit int) string {
	if len(s) > limit {
		return fmt.Sprintf("is %d bytes long; at most %d are allowed", len(s), limit)
	}
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	for i, r := range s {
		if !unicode.IsPrint(r) {
			return fmt.Sprintf("has the non-printable character %U at byte %d", r, i)
		}
	}
	return ""
}
