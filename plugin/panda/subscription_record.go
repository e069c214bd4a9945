package panda

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cloudbss/provisioning/plugin/diag"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// subPrivate is SubscriptionRecord.private: what the adapter needs later
// and the host cannot tell it. Versioned JSON, like privateState.
type subPrivate struct {
	V int `json:"v"`
	// Account is the Panda account that holds the allocations, so that
	// Suspend and Cancel release them even when the caller sends no
	// account record.
	Account string `json:"account,omitempty"`
	// Type is the allocation type held (subscription, term, trial).
	Type string `json:"type,omitempty"`
	// Reseller is the Panda reseller whose stock the licences come from
	// (end customers only); TopUp is how many licences, per product, this
	// subscription's orders added to the reseller's allocations over its
	// life. The top-ups are never taken back (see ProvisionSubscription),
	// so this is an account of what the order cost the reseller.
	Reseller string         `json:"reseller,omitempty"`
	TopUp    map[string]int `json:"topUp,omitempty"`
}

const subPrivateVersion = 1

func encodeSubPrivate(p subPrivate) []byte {
	p.V = subPrivateVersion
	b, _ := json.Marshal(p) // strings and ints cannot fail
	return b
}

func decodeSubPrivate(b []byte) subPrivate {
	var p subPrivate
	if len(b) == 0 || json.Unmarshal(b, &p) != nil || p.V != subPrivateVersion {
		return subPrivate{}
	}
	return p
}

// remoteAllocationID names an allocation as the contract's remote_id does:
// "ACC-0000042/EPDR/subscription".
func remoteAllocationID(account, product, typ string) string {
	return account + "/" + product + "/" + typ
}

// subscriptionRecord builds the record of o in status, or returns prev
// itself when nothing but updated_at would change, so that a replay
// answers the record it was given.
func subscriptionRecord(prev *provisioningv1.SubscriptionRecord, o order, status provisioningv1.SubscriptionStatus, remoteID string, trialEnds time.Time, priv subPrivate, message string, now time.Time) *provisioningv1.SubscriptionRecord {
	r := &provisioningv1.SubscriptionRecord{
		Plugin:         Name,
		SubscriptionId: o.id,
		AccountId:      o.accountID,
		ProductId:      o.product,
		Status:         status,
		Quantity:       int32(o.quantity),
		Trial:          o.trial,
		RemoteId:       remoteID,
		Message:        message,
		Private:        encodeSubPrivate(priv),
		Attributes:     maps.Clone(o.attributes),
	}
	if r.Attributes == nil {
		r.Attributes = map[string]string{}
	}
	r.Attributes[AttributeAllocationType] = o.paidType
	for _, ad := range o.addons {
		r.Addons = append(r.Addons, proto.CloneOf(ad))
	}
	if o.trial && !trialEnds.IsZero() {
		r.TrialEndsAt = timestamppb.New(trialEnds)
	}
	if prev != nil {
		cmp := proto.CloneOf(prev)
		cmp.UpdatedAt = nil
		if proto.Equal(cmp, r) {
			return prev
		}
	}
	r.UpdatedAt = timestamppb.New(now)
	return r
}

// withStatus returns rec in another status with message, or rec itself when
// neither changes.
func withStatus(rec *provisioningv1.SubscriptionRecord, status provisioningv1.SubscriptionStatus, message string, now time.Time) *provisioningv1.SubscriptionRecord {
	if rec.GetStatus() == status && rec.GetMessage() == message {
		return rec
	}
	out := proto.CloneOf(rec)
	out.Plugin = Name
	out.Status = status
	out.Message = message
	out.ErrorReason = ""
	out.UpdatedAt = timestamppb.New(now)
	return out
}

// addonProducts lists the add-on products of addons.
func addonProducts(addons []*provisioningv1.Addon) []string {
	out := make([]string, 0, len(addons))
	for _, ad := range addons {
		out = append(out, ad.GetProductId())
	}
	return slices.Compact(out)
}

// insufficientError is INSUFFICIENT_INVENTORY for the products the root
// cannot supply: FAILED_PRECONDITION with a violation per product on the
// subscription field that asked for it, and ErrorInfo metadata product,
// requested and available of the first.
func insufficientError(short []shortage) error {
	ds := make([]*provisioningv1.Diagnostic, 0, len(short))
	for _, s := range short {
		who, fix := "the root partner account", "Buy more licences from WatchGuard, then retry."
		if s.from != "" {
			who, fix = "Panda account "+s.from, "Another order took the stock meanwhile: retry."
		}
		ds = append(ds, diag.Error(s.field, diag.CodeInsufficientInventory,
			who+" has "+strconv.Itoa(s.available)+" unallocated "+s.product+" licences; "+strconv.Itoa(s.requested)+" are needed", fix))
	}
	return withErrorMetadata(diag.ToError(ds), map[string]string{
		"product": short[0].product, "requested": strconv.Itoa(short[0].requested), "available": strconv.Itoa(short[0].available),
	})
}

// withErrorMetadata adds md to the ErrorInfo metadata of a status error;
// err is returned unchanged when it is not a status error.
func withErrorMetadata(err error, md map[string]string) error {
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	p := st.Proto()
	for i, d := range p.GetDetails() {
		ei := &errdetails.ErrorInfo{}
		if d.UnmarshalTo(ei) != nil {
			continue
		}
		if ei.Metadata == nil {
			ei.Metadata = map[string]string{}
		}
		maps.Copy(ei.Metadata, md)
		if a, err := anypb.New(ei); err == nil {
			p.Details[i] = a
		}
	}
	return status.ErrorProto(p)
}
