package panda_test

import (
	"context"
	"fmt"
	"log"
	"net/http/httptest"

	"github.com/cloudbss/provisioning/internal/pandasim"
	"github.com/cloudbss/provisioning/plugin/panda"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// The adapter in process, against a simulator: configure it, read the form
// of a direct customer, synchronize it the storefront way (auto_fill), and
// replay the call.
func Example() {
	sim, err := pandasim.New()
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	defer srv.Close()

	ctx := context.Background()
	a := panda.New()
	_, err = a.Configure(ctx, &provisioningv1.ConfigureRequest{Settings: map[string]string{
		panda.SettingAPIURL:        srv.URL,
		panda.SettingAccessID:      pandasim.DefaultAccessID,
		panda.SettingPassword:      pandasim.DefaultPassword,
		panda.SettingAPIKey:        pandasim.DefaultAPIKey,
		panda.SettingRootAccountID: pandasim.DefaultRootAccountID,
	}})
	if err != nil {
		log.Fatal(err)
	}

	acc := &provisioningv1.Account{
		Id:             "C-1",
		Type:           provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER,
		Name:           "Acme Corp",
		CorporateEmail: "info@acme.example",
	}
	form, err := a.GetSyncOptions(ctx, &provisioningv1.GetSyncOptionsRequest{Account: acc})
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range form.GetFields() {
		fmt.Printf("%s: %q\n", f.GetLabel(), f.GetValue())
	}

	resp, err := a.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: acc, AutoFill: true})
	if err != nil {
		log.Fatal(err)
	}
	rec := resp.GetRecord()
	fmt.Println(rec.GetStatus(), "under", rec.GetRemoteParentId(), "created:", resp.GetCreated())

	again, err := a.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: acc, AutoFill: true, Record: rec})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(again.GetRecord().GetStatus(), "same account:", again.GetRecord().GetRemoteId() == rec.GetRemoteId(), "created:", again.GetCreated())

	// Output:
	// Role: "User"
	// Username: "info.acme-corp"
	// SYNC_STATUS_SYNCED under ACC-0000001 created: true
	// SYNC_STATUS_SYNCED same account: true created: false
}

// unreachable is a Remote that finds Panda down. It embeds the interface
// only to have the methods Probe never calls.
type unreachable struct{ panda.Remote }

func (unreachable) Authenticate(context.Context) error {
	return &panda.RemoteError{Kind: panda.ErrUnavailable, Message: "connection refused"}
}

// A Remote of your own: the adapter maps its errors by Kind, so an
// unavailable Panda makes Probe answer "not ready" rather than fail.
func ExampleWithRemote() {
	ctx := context.Background()
	a := panda.New(panda.WithRemote(func(panda.Config) (panda.Remote, error) { return unreachable{}, nil }))
	_, err := a.Configure(ctx, &provisioningv1.ConfigureRequest{Settings: map[string]string{
		panda.SettingAPIURL:        "https://panda.example",
		panda.SettingAccessID:      "bss-owner",
		panda.SettingPassword:      "not-printed",
		panda.SettingAPIKey:        "not-printed",
		panda.SettingRootAccountID: "ACC-0000001",
	}})
	if err != nil {
		log.Fatal(err)
	}
	probe, err := a.Probe(ctx, &provisioningv1.ProbeRequest{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(probe.GetReady(), probe.GetMessage())

	// Output:
	// false Panda at https://panda.example cannot be reached or is failing: panda: unavailable: connection refused
}
