package panda_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/mock/gomock"
	"google.golang.org/grpc/codes"

	"github.com/cloudbss/provisioning/plugin/panda"
	"github.com/cloudbss/provisioning/plugin/panda/internal/remotemock"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

func TestConfigure(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		overrides []string
		want      string
	}{
		"valid":                    {nil, "OK"},
		"defaults only":            {[]string{panda.SettingTxPollInterval, "<delete>", panda.SettingTxDeadline, "<delete>"}, "OK"},
		"missing api_url":          {[]string{panda.SettingAPIURL, "<delete>"}, "InvalidArgument REQUIRED api_url"},
		"missing access_id":        {[]string{panda.SettingAccessID, ""}, "InvalidArgument REQUIRED access_id"},
		"missing password":         {[]string{panda.SettingPassword, "<delete>"}, "InvalidArgument REQUIRED password"},
		"missing api_key":          {[]string{panda.SettingAPIKey, "<delete>"}, "InvalidArgument REQUIRED api_key"},
		"missing root_account_id":  {[]string{panda.SettingRootAccountID, " "}, "InvalidArgument REQUIRED root_account_id"},
		"relative api_url":         {[]string{panda.SettingAPIURL, "panda.example"}, "InvalidArgument INVALID_VALUE api_url"},
		"ftp api_url":              {[]string{panda.SettingAPIURL, "ftp://panda.example"}, "InvalidArgument INVALID_VALUE api_url"},
		"api_url with credentials": {[]string{panda.SettingAPIURL, "https://u:" + testPassword + "@panda.example"}, "InvalidArgument INVALID_VALUE api_url"},
		"api_url with a query":     {[]string{panda.SettingAPIURL, "https://panda.example/?x=1"}, "InvalidArgument INVALID_VALUE api_url"},
		"root id with a slash":     {[]string{panda.SettingRootAccountID, "ACC-1/2"}, "InvalidArgument INVALID_VALUE root_account_id"},
		"max_tiers not a number":   {[]string{panda.SettingMaxTiers, "three"}, "InvalidArgument INVALID_VALUE max_tiers"},
		"max_tiers zero":           {[]string{panda.SettingMaxTiers, "0"}, "InvalidArgument INVALID_VALUE max_tiers"},
		"max_tiers 5":              {[]string{panda.SettingMaxTiers, "5"}, "OK"},
		"bad request_timeout":      {[]string{panda.SettingRequestTimeout, "30"}, "InvalidArgument INVALID_VALUE request_timeout"},
		"negative tx_deadline":     {[]string{panda.SettingTxDeadline, "-1s"}, "InvalidArgument INVALID_VALUE tx_deadline"},
		"zero tx_deadline":         {[]string{panda.SettingTxDeadline, "0s"}, "OK"},
		"huge tx_poll_interval":    {[]string{panda.SettingTxPollInterval, "2h"}, "InvalidArgument INVALID_VALUE tx_poll_interval"},
		"unknown setting":          {[]string{"region", "eu"}, "InvalidArgument UNKNOWN_FIELD region"},
		"several problems":         {[]string{panda.SettingAPIURL, "<delete>", panda.SettingMaxTiers, "x"}, "InvalidArgument REQUIRED api_url,max_tiers"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a := panda.New(panda.WithRemote(func(panda.Config) (panda.Remote, error) { return nil, nil }))
			_, err := a.Configure(context.Background(), &provisioningv1.ConfigureRequest{Settings: settings(tc.overrides...)})
			if got := errKey(err); got != tc.want {
				t.Errorf("Configure = %q (%v), want %q", got, err, tc.want)
			}
			if err != nil && (strings.Contains(err.Error(), testPassword) || strings.Contains(err.Error(), testAPIKey)) {
				t.Errorf("error %q holds a secret", err)
			}
		})
	}
}

func TestConfigureParsesValues(t *testing.T) {
	t.Parallel()
	var got panda.Config
	a := panda.New(panda.WithRemote(func(c panda.Config) (panda.Remote, error) { got = c; return nil, nil }))
	_, err := a.Configure(context.Background(), &provisioningv1.ConfigureRequest{Settings: map[string]string{
		"api_url": " https://panda.example/ ", "access_id": "id", "password": "p", "api_key": "k", "root_account_id": "ACC-0000042",
		"max_tiers": "4", "request_timeout": "5s", "tx_poll_interval": "100ms", "tx_deadline": "1m",
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := panda.Config{APIURL: "https://panda.example", AccessID: "id", Password: "p", APIKey: "k", RootAccountID: "ACC-0000042",
		MaxTiers: 4, RequestTimeout: 5 * time.Second, TxPollInterval: 100 * time.Millisecond, TxDeadline: time.Minute}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
}

func TestConfigNeverPrintsSecrets(t *testing.T) {
	t.Parallel()
	c, _ := panda.ParseConfig(settings())
	var buf strings.Builder
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "config", c)
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s", c, c, c, c), buf.String()} {
		if strings.Contains(s, testPassword) || strings.Contains(s, testAPIKey) {
			t.Errorf("printed config holds a secret: %s", s)
		}
		if !strings.Contains(s, root) {
			t.Errorf("printed config lacks the root account: %s", s)
		}
	}
}

func TestNotConfigured(t *testing.T) {
	t.Parallel()
	a := panda.New()
	ctx := context.Background()
	calls := map[string]func() error{
		"Probe": func() error { _, err := a.Probe(ctx, &provisioningv1.ProbeRequest{}); return err },
		"GetSyncOptions": func() error {
			_, err := a.GetSyncOptions(ctx, &provisioningv1.GetSyncOptionsRequest{Account: directCustomer()})
			return err
		},
		"ValidateSyncOptions": func() error {
			_, err := a.ValidateSyncOptions(ctx, &provisioningv1.ValidateSyncOptionsRequest{Account: directCustomer()})
			return err
		},
		"Synchronize": func() error {
			_, err := a.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: directCustomer()})
			return err
		},
		"GetSyncStatus": func() error {
			_, err := a.GetSyncStatus(ctx, &provisioningv1.GetSyncStatusRequest{Record: syncedRecord(stSynced)})
			return err
		},
	}
	for name, call := range calls {
		if got := errKey(call()); got != "FailedPrecondition NOT_CONFIGURED plugin" {
			t.Errorf("%s: %q, want FAILED_PRECONDITION NOT_CONFIGURED", name, got)
		}
	}
	// A failed Configure leaves the plugin unconfigured.
	if _, err := a.Configure(ctx, &provisioningv1.ConfigureRequest{}); err == nil {
		t.Fatal("empty Configure succeeded")
	}
	if got := errKey(calls["Probe"]()); got != "FailedPrecondition NOT_CONFIGURED plugin" {
		t.Errorf("after a failed Configure: %q", got)
	}
}

// TestReconfigure: a second Configure replaces the client for later calls.
func TestReconfigure(t *testing.T) {
	t.Parallel()
	ctrl := gomock.NewController(t)
	first, second := remotemock.NewMockRemote(ctrl), remotemock.NewMockRemote(ctrl)
	var mu sync.Mutex
	apis := []panda.Remote{first, second}
	a := panda.New(panda.WithRemote(func(panda.Config) (panda.Remote, error) {
		mu.Lock()
		defer mu.Unlock()
		api := apis[0]
		apis = apis[1:]
		return api, nil
	}))
	ctx := context.Background()
	for i, m := range []*remotemock.MockRemote{first, second} {
		if _, err := a.Configure(ctx, &provisioningv1.ConfigureRequest{Settings: settings(panda.SettingRootAccountID, fmt.Sprintf("ACC-000000%d", i+1))}); err != nil {
			t.Fatal(err)
		}
		m.EXPECT().Authenticate(gomock.Any()).Return(nil)
		m.EXPECT().GetAccount(gomock.Any(), fmt.Sprintf("ACC-000000%d", i+1)).Return(&panda.RemoteAccount{ID: "x", Type: 1}, nil)
		if _, err := a.Probe(ctx, &provisioningv1.ProbeRequest{}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestGetPluginInfo(t *testing.T) {
	t.Parallel()
	info, err := panda.New().GetPluginInfo(context.Background(), &provisioningv1.GetPluginInfoRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if info.GetName() != "panda" || info.GetDisplayName() != "Panda Antivirus" || info.GetVersion() != panda.Version {
		t.Errorf("info = %v", info)
	}
	if caps := info.GetCapabilities(); len(caps) != 9 || !slices.Contains(caps, provisioningv1.Capability_CAPABILITY_SUBSCRIPTIONS) || !slices.Contains(caps, provisioningv1.Capability_CAPABILITY_DELETE) {
		t.Errorf("capabilities = %v", info.GetCapabilities())
	}
	got := map[string]string{}
	for _, f := range info.GetConfigFields() {
		flags := ""
		if f.GetRequired() {
			flags += "required "
		}
		if f.GetSensitive() {
			flags += "sensitive"
			if f.GetValue() != "" {
				t.Errorf("sensitive field %s has a value", f.GetKey())
			}
		}
		got[f.GetKey()] = strings.TrimSpace(flags)
	}
	want := map[string]string{
		"api_url": "required", "access_id": "required", "password": "required sensitive", "api_key": "required sensitive",
		"root_account_id": "required", "max_tiers": "", "request_timeout": "", "tx_poll_interval": "", "tx_deadline": "",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("config fields (-want +got):\n%s", diff)
	}
}

func TestProbe(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		auth      error
		root      *panda.RemoteAccount
		rootErr   error
		wantReady bool
		wantMsg   string
	}{
		"ready":               {root: &panda.RemoteAccount{ID: root, Type: 1, Name: "Root"}, wantReady: true, wantMsg: "root account " + root + " (Root)"},
		"credentials refused": {auth: unauthorized("Authenticate"), wantMsg: "refused the credentials"},
		"unreachable":         {auth: unavailable("Authenticate"), wantMsg: "cannot be reached"},
		"rate limited":        {auth: rateLimited("Authenticate"), wantMsg: "rate limiting"},
		"API key refused":     {rootErr: unauthorized("GetAccount"), wantMsg: "refused the credentials"},
		"root missing":        {rootErr: notFound("GetAccount"), wantMsg: "root account " + root + " does not exist"},
		"root a subscriber":   {root: &panda.RemoteAccount{ID: root, Type: 2}, wantMsg: "not a service provider"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a, m := newMocked(t)
			m.EXPECT().Authenticate(gomock.Any()).Return(tc.auth)
			if tc.auth == nil {
				m.EXPECT().GetAccount(gomock.Any(), root).Return(tc.root, tc.rootErr)
			}
			resp, err := a.Probe(context.Background(), &provisioningv1.ProbeRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if resp.GetReady() != tc.wantReady || !strings.Contains(resp.GetMessage(), tc.wantMsg) {
				t.Errorf("Probe = %v %q, want %v and %q", resp.GetReady(), resp.GetMessage(), tc.wantReady, tc.wantMsg)
			}
			if strings.Contains(resp.GetMessage(), testPassword) || strings.Contains(resp.GetMessage(), testAPIKey) {
				t.Errorf("message %q holds a secret", resp.GetMessage())
			}
		})
	}
	t.Run("caller's deadline", func(t *testing.T) {
		t.Parallel()
		a, m := newMocked(t)
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		defer cancel()
		m.EXPECT().Authenticate(gomock.Any()).DoAndReturn(func(ctx context.Context) error {
			<-ctx.Done()
			return &panda.RemoteError{Kind: panda.ErrUnavailable, Err: ctx.Err()}
		})
		_, err := a.Probe(ctx, &provisioningv1.ProbeRequest{})
		wantCode(t, err, codes.DeadlineExceeded)
	})
}
