package servicemanager

import (
	"net/mail"
	"regexp"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cloudbss/provisioning/plugin/diag"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// Option IDs and values with a meaning for the bridge itself.
const (
	// OptionRole is the option whose value decides the account type:
	// [RoleReseller] makes the account a reseller, anything else (or no
	// value) a customer. interworks' Account body has no type of its own.
	OptionRole = "role"
	// RoleReseller is the role value of a reseller.
	RoleReseller = "Reseller"
	// OptionUsername is the option interworks fills with the customer's
	// email on storefront orders.
	OptionUsername = "username"
)

// bcp47 is a loose language-tag check: interworks' Language is free text in
// some versions ("English"); only tags are passed on.
var bcp47 = regexp.MustCompile(`^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$`)

// account turns the interworks body into the contract's account and the
// option values. Empty option values are dropped: they mean "not filled",
// and every call runs with auto_fill (see [Server.synchronize]).
func account(in *AccountDefinition, accountType provisioningv1.AccountType) (*provisioningv1.Account, map[string]string, error) {
	if strings.TrimSpace(in.ID) == "" {
		return nil, nil, invalid("ID", "ID (the BSS account id) is required")
	}
	if in.ResellerID != "" && in.ResellerID == in.ID {
		return nil, nil, invalid("ResellerID", "ResellerID is the account's own ID: an account cannot be its own reseller")
	}
	values := map[string]string{}
	for k, v := range in.SyncOptions {
		if v = strings.TrimSpace(v); v != "" {
			values[k] = v
		}
	}
	acc := &provisioningv1.Account{
		Id:             in.ID,
		Type:           accountType,
		Name:           strings.TrimSpace(in.Name),
		CorporateEmail: strings.TrimSpace(in.Email),
		ParentId:       in.ResellerID,
	}
	if accountType == provisioningv1.AccountType_ACCOUNT_TYPE_UNSPECIFIED {
		acc.Type = provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER
		if strings.EqualFold(values[OptionRole], RoleReseller) {
			acc.Type = provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER
		}
	}
	if cd := in.ContactDetails; cd != nil {
		acc.Contact = &provisioningv1.Contact{
			FirstName: first(cd.PrimaryFirstName, cd.FirstName),
			LastName:  first(cd.PrimaryLastName, cd.LastName),
			Phone:     first(cd.PrimaryPhone, cd.Phone, in.Phone),
		}
		if acc.CorporateEmail == "" {
			acc.CorporateEmail = first(cd.PrimaryEmail, cd.Email)
		}
	} else if in.Phone != "" {
		acc.Contact = &provisioningv1.Contact{Phone: in.Phone}
	}
	if in.Address != nil && in.Address.Country != nil {
		acc.Country = strings.ToUpper(strings.TrimSpace(in.Address.Country.Code))
	}
	if l := strings.TrimSpace(in.Language); bcp47.MatchString(l) {
		acc.Language = l
	}
	return acc, values, nil
}

func first(vs ...string) string {
	for _, v := range vs {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}

// storedAccount reads the account's record and snapshot from the host;
// both nil when it was never synchronized.
func (s *Server) storedAccount(c *call, id string) (*hostv1.GetSyncRecordResponse, error) {
	r, err := s.host.GetSyncRecord(c.ctx, &hostv1.GetSyncRecordRequest{Plugin: c.plugin, AccountId: id})
	if status.Code(err) == codes.NotFound {
		return nil, nil
	}
	return r, err
}

// synchronize is Account Synchronize: the host's Synchronize, or its
// ValidateSyncOptions with ?checkonly=true / "CheckOnly": true.
//
// Every call runs with auto_fill: interworks' option definitions cannot
// carry a pre-populated value (only a list's default), so a value the BSS
// did not send is filled from the plugin's default, exactly as on a
// storefront order. Result is the remote account id; AccountExtraInfo the
// values synchronized (so a username the plugin chose is reported).
func (s *Server) synchronize(c *call) (any, error) {
	var in struct {
		AccountDefinition
		CheckOnly bool `json:"CheckOnly"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	c.checkOnly = c.checkOnly || in.CheckOnly
	stored, err := s.storedAccount(c, in.ID)
	if err != nil {
		return nil, err
	}
	// With no role in the body, a known account keeps the type it was
	// synchronized with rather than silently becoming a customer.
	typ := provisioningv1.AccountType_ACCOUNT_TYPE_UNSPECIFIED
	if in.SyncOptions[OptionRole] == "" && stored.GetAccount() != nil {
		typ = stored.GetAccount().GetType()
	}
	acc, values, err := account(&in.AccountDefinition, typ)
	if err != nil {
		return nil, err
	}
	rec := stored.GetRecord()
	if in.ExternalID != "" && rec.GetRemoteId() != "" && in.ExternalID != rec.GetRemoteId() {
		return nil, diag.FailedPrecondition("EXTERNAL_ID_MISMATCH", "ExternalID",
			"ExternalID "+clip(in.ExternalID, 64)+" is not the remote account this account is synchronized with ("+rec.GetRemoteId()+")")
	}
	if err := s.fixEmailUsername(c, acc, values); err != nil {
		return nil, err
	}
	if c.checkOnly {
		v, err := s.host.ValidateSyncOptions(c.ctx, &hostv1.ValidateSyncOptionsRequest{Plugin: c.plugin, Request: &provisioningv1.ValidateSyncOptionsRequest{
			Account: acc, Values: values, AutoFill: true,
		}})
		if err != nil {
			return nil, err
		}
		if err := diag.ToError(v.GetResponse().GetDiagnostics()); err != nil {
			return nil, err
		}
		return Result{Message: "check only: the account can be synchronized", Result: rec.GetRemoteId(), AccountExtraInfo: v.GetResponse().GetValues()}, nil
	}
	resp, err := s.host.Synchronize(c.ctx, &hostv1.SynchronizeRequest{Plugin: c.plugin, Request: &provisioningv1.SynchronizeRequest{
		Account: acc, Values: values, AutoFill: true,
	}})
	if err != nil {
		return nil, err
	}
	r := resp.GetResponse().GetRecord()
	if r.GetRemoteId() == "" {
		// A remote transaction still runs (PENDING): interworks must not
		// store an empty ExternalID. The replay resumes it.
		return nil, diag.Unavailable("PENDING", "the account is still being created in the remote system; retry", defaultRetryAfter)
	}
	c.log.Info("account synchronized", "account_id", acc.GetId(), "remote_id", r.GetRemoteId(), "created", resp.GetResponse().GetCreated(), "status", r.GetStatus().String())
	return Result{Result: r.GetRemoteId(), AccountExtraInfo: extraInfo(r)}, nil
}

// extraInfo is what an account answer reports besides the id: the values
// synchronized (option ID → value; the plugin never puts secrets there)
// and the status.
func extraInfo(r *provisioningv1.SyncRecord) map[string]string {
	m := make(map[string]string, len(r.GetValues())+1)
	for k, v := range r.GetValues() {
		m[k] = v
	}
	m["status"] = strings.TrimPrefix(r.GetStatus().String(), "SYNC_STATUS_")
	return m
}

// fixEmailUsername handles interworks' storefront rule: an option with ID
// "username" arrives filled with the customer's email. When the plugin
// refuses that value for its username option, the username becomes the
// plugin's own suggestion for the account (the value of that field in
// GetSyncOptions: free, valid, and for a synchronized account the one it
// has), so the generic layer learns no plugin's username rules. A plugin
// that accepts emails as usernames keeps the email.
func (s *Server) fixEmailUsername(c *call, acc *provisioningv1.Account, values map[string]string) error {
	v := values[OptionUsername]
	if !isEmail(v) {
		return nil
	}
	vr, err := s.host.ValidateSyncOptions(c.ctx, &hostv1.ValidateSyncOptionsRequest{Plugin: c.plugin, Request: &provisioningv1.ValidateSyncOptionsRequest{
		Account: acc, Values: values, AutoFill: true,
	}})
	if err != nil {
		return err
	}
	refused := false
	for _, d := range diag.Errors(vr.GetResponse().GetDiagnostics()) {
		refused = refused || d.GetField() == OptionUsername
	}
	if !refused {
		return nil
	}
	form, err := s.host.GetSyncOptions(c.ctx, &hostv1.GetSyncOptionsRequest{Plugin: c.plugin, Request: &provisioningv1.GetSyncOptionsRequest{Account: acc}})
	if err != nil {
		return err
	}
	for _, f := range form.GetResponse().GetFields() {
		if f.GetKey() == OptionUsername && f.GetValue() != "" {
			c.log.Info("storefront username replaced by the plugin's suggestion", "account_id", acc.GetId(), "username", f.GetValue())
			values[OptionUsername] = f.GetValue()
			return nil
		}
	}
	// No suggestion: let auto_fill choose.
	delete(values, OptionUsername)
	return nil
}

func isEmail(v string) bool {
	if !strings.Contains(v, "@") {
		return false
	}
	a, err := mail.ParseAddress(v)
	return err == nil && a.Address == v
}

// exists is Account Exists, as interworks' sample service manager answers
// it: Code 1 with the remote account id in Result when the account is
// synchronized (or being synchronized), Code 0 when it is not.
func (s *Server) exists(c *call) (any, error) {
	var in AccountDefinition
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if strings.TrimSpace(in.ID) == "" {
		return nil, invalid("ID", "ID (the BSS account id) is required")
	}
	stored, err := s.storedAccount(c, in.ID)
	if err != nil {
		return nil, err
	}
	r := stored.GetRecord()
	switch r.GetStatus() {
	case provisioningv1.SyncStatus_SYNC_STATUS_SYNCED, provisioningv1.SyncStatus_SYNC_STATUS_ACTIVE, provisioningv1.SyncStatus_SYNC_STATUS_PENDING:
		if r.GetRemoteId() != "" {
			return Result{Code: 1, Message: "the account is synchronized", Result: r.GetRemoteId(), AccountExtraInfo: extraInfo(r)}, nil
		}
	}
	return Result{Code: 0, Message: "the account is not synchronized"}, nil
}

// deleteAccount is Account Delete: the host's DeleteAccount without
// cascade (interworks deletes accounts one by one; a reseller with
// customers is refused with HAS_CHILDREN, Code -9). An account that was
// never synchronized has nothing to delete: success. Result is the
// ExternalID, as in interworks' sample.
func (s *Server) deleteAccount(c *call) (any, error) {
	var in AccountDefinition
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if strings.TrimSpace(in.ID) == "" {
		return nil, invalid("ID", "ID (the BSS account id) is required")
	}
	r, err := s.host.DeleteAccount(c.ctx, &hostv1.DeleteAccountRequest{Plugin: c.plugin, Request: &provisioningv1.DeleteAccountRequest{
		Account: &provisioningv1.Account{Id: in.ID},
	}})
	if status.Code(err) == codes.NotFound {
		return Result{Message: "the account was never synchronized: nothing to delete", Result: in.ExternalID}, nil
	}
	if err != nil {
		return nil, err
	}
	rec := r.GetResponse().GetRecord()
	c.log.Info("account deleted", "account_id", in.ID, "remote_id", rec.GetRemoteId(), "deleted", r.GetResponse().GetDeleted())
	return Result{Result: first(rec.GetRemoteId(), in.ExternalID), AccountExtraInfo: extraInfo(rec)}, nil
}
