package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

func subscriptionStatusName(s provisioningv1.SubscriptionStatus) string {
	return enumName(s, "SUBSCRIPTION_STATUS_")
}

func productKindName(k provisioningv1.ProductKind) string { return enumName(k, "PRODUCT_KIND_") }

// boundCell prints a quantity bound; 0 means none.
func boundCell(n int32) string {
	if n == 0 {
		return none
	}
	return strconv.Itoa(int(n))
}

// trialTerms is a product's trial offer: "<=250, 30 days", or - for none.
func trialTerms(p *provisioningv1.Product) string {
	if !p.GetTrialAvailable() {
		return none
	}
	var t []string
	if m := p.GetTrialMaxQuantity(); m > 0 {
		t = append(t, "<="+strconv.Itoa(int(m)))
	}
	if d := p.GetTrialDays(); d > 0 {
		t = append(t, strconv.Itoa(int(d))+" days")
	}
	if len(t) == 0 {
		return "yes"
	}
	return strings.Join(t, ", ")
}

// renderProducts prints the catalogue, one product per row, in the plugin's
// order (base products first).
func renderProducts(w io.Writer, ps []*provisioningv1.Product) error {
	if len(ps) == 0 {
		_, err := fmt.Fprintln(w, "No products.")
		return err
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "PRODUCT\tNAME\tKIND\tADD-ON OF\tMIN\tMAX\tTRIAL\tATTRIBUTES")
	for _, p := range ps {
		attrs := make([]string, 0, len(p.GetAttributes()))
		for _, f := range p.GetAttributes() {
			attrs = append(attrs, f.GetKey())
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", cell(p.GetId()), cell(p.GetName()), productKindName(p.GetKind()),
			cell(strings.Join(p.GetAddonOf(), ",")), boundCell(p.GetMinQuantity()), boundCell(p.GetMaxQuantity()), trialTerms(p),
			cell(strings.Join(attrs, ",")))
	}
	return tw.Flush()
}

// addonsCell lists add-ons as PRODUCT:QUANTITY, in the record's order.
func addonsCell(as []*provisioningv1.Addon) string {
	s := make([]string, 0, len(as))
	for _, a := range as {
		s = append(s, a.GetProductId()+":"+strconv.Itoa(int(a.GetQuantity())))
	}
	return cell(strings.Join(s, ","))
}

// trialCell says whether a record is a trial, and until when if known.
func trialCell(r *provisioningv1.SubscriptionRecord) string {
	switch {
	case !r.GetTrial():
		return "no"
	case r.GetTrialEndsAt().IsValid():
		return "until " + timeCell(r.GetTrialEndsAt())
	}
	return "yes"
}

// attributesCell lists attributes as key=value sorted by key, hiding
// secret-looking values.
func attributesCell(attrs map[string]string) string {
	s := make([]string, 0, len(attrs))
	for _, k := range slices.Sorted(maps.Keys(attrs)) {
		s = append(s, k+"="+displayValue(k, attrs[k]))
	}
	return cell(strings.Join(s, ", "))
}

// renderSubscriptionRecord prints one subscription record as a list of facts.
func renderSubscriptionRecord(w io.Writer, rec *provisioningv1.SubscriptionRecord, extra ...[2]string) error {
	tw := newTable(w)
	fmt.Fprintf(tw, "Subscription:\t%s\n", cell(rec.GetSubscriptionId()))
	fmt.Fprintf(tw, "Account:\t%s\n", cell(rec.GetAccountId()))
	fmt.Fprintf(tw, "Plugin:\t%s\n", cell(rec.GetPlugin()))
	fmt.Fprintf(tw, "Product:\t%s\n", cell(rec.GetProductId()))
	fmt.Fprintf(tw, "Status:\t%s\n", subscriptionStatusName(rec.GetStatus()))
	fmt.Fprintf(tw, "Quantity:\t%d\n", rec.GetQuantity())
	fmt.Fprintf(tw, "Add-ons:\t%s\n", addonsCell(rec.GetAddons()))
	fmt.Fprintf(tw, "Trial:\t%s\n", trialCell(rec))
	fmt.Fprintf(tw, "Attributes:\t%s\n", attributesCell(rec.GetAttributes()))
	fmt.Fprintf(tw, "Remote id:\t%s\n", cell(rec.GetRemoteId()))
	for _, kv := range extra {
		fmt.Fprintf(tw, "%s:\t%s\n", kv[0], kv[1])
	}
	if rec.GetMessage() != "" {
		fmt.Fprintf(tw, "Message:\t%s\n", oneLine(rec.GetMessage()))
	}
	if rec.GetErrorReason() != "" {
		fmt.Fprintf(tw, "Error reason:\t%s\n", rec.GetErrorReason())
	}
	fmt.Fprintf(tw, "Updated:\t%s\n", timeCell(rec.GetUpdatedAt()))
	return tw.Flush()
}

// renderSubscriptionRecords prints stored subscription records, one per row.
// A FAILED record shows its error reason in the message column.
func renderSubscriptionRecords(w io.Writer, recs []*provisioningv1.SubscriptionRecord) error {
	if len(recs) == 0 {
		_, err := fmt.Fprintln(w, "No subscriptions.")
		return err
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "SUBSCRIPTION\tACCOUNT\tPRODUCT\tQUANTITY\tADD-ONS\tSTATUS\tTRIAL\tREMOTE ID\tUPDATED\tMESSAGE")
	for _, r := range recs {
		msg := r.GetMessage()
		if r.GetErrorReason() != "" {
			msg = r.GetErrorReason() + ": " + msg
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", cell(r.GetSubscriptionId()), cell(r.GetAccountId()), cell(r.GetProductId()),
			r.GetQuantity(), addonsCell(r.GetAddons()), subscriptionStatusName(r.GetStatus()), trialCell(r), cell(r.GetRemoteId()),
			timeCell(r.GetUpdatedAt()), truncate(cell(msg), maxMessageCell))
	}
	return tw.Flush()
}
