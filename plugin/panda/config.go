package panda

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/cloudbss/provisioning/plugin/diag"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// Setting keys accepted by Configure, as listed in GetPluginInfo.config_fields.
const (
	SettingAPIURL         = "api_url"
	SettingAccessID       = "access_id"
	SettingPassword       = "password"
	SettingAPIKey         = "api_key"
	SettingRootAccountID  = "root_account_id"
	SettingMaxTiers       = "max_tiers"
	SettingRequestTimeout = "request_timeout"
	SettingTxPollInterval = "tx_poll_interval"
	SettingTxDeadline     = "tx_deadline"
)

// Defaults of the optional settings.
const (
	defaultMaxTiers       = 3
	defaultRequestTimeout = 30 * time.Second
	defaultTxPollInterval = 250 * time.Millisecond
	defaultTxDeadline     = 10 * time.Second
)

// Config is the adapter's parsed settings. Its String and LogValue methods
// leave the secrets out, so a Config may be logged or printed with %v.
type Config struct {
	// APIURL is the scheme and host of the Panda API. It must not carry
	// credentials: they would end up in logs and error messages.
	APIURL string
	// AccessID is the OAuth2 client id; an identifier, not a secret.
	AccessID string
	// Password is the OAuth2 client secret. Secret.
	Password string
	// APIKey is sent as the WatchGuard-API-Key header. Secret.
	APIKey string
	// RootAccountID is the BSS owner's own Panda service-provider account:
	// direct customers and resellers are created under it.
	RootAccountID string
	// MaxTiers is how many tiers of accounts Panda allows below the root
	// (default 3). An account deeper than that fails TIER_LIMIT before any
	// remote call instead of after a refused create.
	MaxTiers int
	// RequestTimeout bounds one HTTP attempt (default 30s); the caller's
	// deadline bounds the whole RPC.
	RequestTimeout time.Duration
	// TxPollInterval is the pause between two reads of a pending operator
	// transaction (default 250ms). The first read is immediate.
	TxPollInterval time.Duration
	// TxDeadline is how long Synchronize waits for the operator transaction
	// before it answers a PENDING record that GetSyncStatus resumes
	// (default 10s; 0 answers PENDING after one read).
	TxDeadline time.Duration
}

// String describes the configuration without its secrets.
func (c Config) String() string {
	return fmt.Sprintf("panda.Config{APIURL: %q, AccessID: %q, Password: %s, APIKey: %s, RootAccountID: %q, MaxTiers: %d, RequestTimeout: %s, TxPollInterval: %s, TxDeadline: %s}",
		c.APIURL, c.AccessID, redacted(c.Password), redacted(c.APIKey), c.RootAccountID, c.MaxTiers, c.RequestTimeout, c.TxPollInterval, c.TxDeadline)
}

// GoString keeps %#v from printing the secrets.
func (c Config) GoString() string { return c.String() }

// LogValue keeps slog from printing the secrets.
// Durations are strings: the JSON handler would print nanoseconds.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("api_url", c.APIURL),
		slog.String("access_id", c.AccessID),
		slog.String("root_account_id", c.RootAccountID),
		slog.Int("max_tiers", c.MaxTiers),
		slog.String("request_timeout", c.RequestTimeout.String()),
		slog.String("tx_poll_interval", c.TxPollInterval.String()),
		slog.String("tx_deadline", c.TxDeadline.String()),
	)
}

func redacted(s string) string {
	if s == "" {
		return `""`
	}
	return "[REDACTED]"
}

// settingSpec describes one setting for GetPluginInfo and for parsing.
type settingSpec struct {
	key, label, description string
	kind                    provisioningv1.FieldKind
	required, sensitive     bool
	def                     string
}

var settingSpecs = []settingSpec{
	{key: SettingAPIURL, label: "API URL", kind: provisioningv1.FieldKind_FIELD_KIND_STRING, required: true,
		description: "Scheme and host of the Panda (WatchGuard Cloud) API, e.g. https://api.example.com. Without credentials in it."},
	{key: SettingAccessID, label: "Access ID", kind: provisioningv1.FieldKind_FIELD_KIND_STRING, required: true,
		description: "OAuth2 client id of the BSS owner's API access."},
	{key: SettingPassword, label: "Password", kind: provisioningv1.FieldKind_FIELD_KIND_STRING, required: true, sensitive: true,
		description: "OAuth2 client secret of the API access."},
	{key: SettingAPIKey, label: "API key", kind: provisioningv1.FieldKind_FIELD_KIND_STRING, required: true, sensitive: true,
		description: "Sent as the WatchGuard-API-Key header on every call."},
	{key: SettingRootAccountID, label: "Root account", kind: provisioningv1.FieldKind_FIELD_KIND_ACCOUNT_REF, required: true,
		description: "The BSS owner's own Panda service-provider account; direct customers and resellers are created under it."},
	{key: SettingMaxTiers, label: "Maximum tiers", kind: provisioningv1.FieldKind_FIELD_KIND_INTEGER, def: strconv.Itoa(defaultMaxTiers),
		description: "How many tiers of accounts Panda allows below the root account (1 to 10)."},
	{key: SettingRequestTimeout, label: "Request timeout", kind: provisioningv1.FieldKind_FIELD_KIND_STRING, def: defaultRequestTimeout.String(),
		description: "Bound on one HTTP attempt, as a Go duration (e.g. 30s)."},
	{key: SettingTxPollInterval, label: "Transaction poll interval", kind: provisioningv1.FieldKind_FIELD_KIND_STRING, def: defaultTxPollInterval.String(),
		description: "Pause between two reads of a pending operator transaction, as a Go duration."},
	{key: SettingTxDeadline, label: "Transaction deadline", kind: provisioningv1.FieldKind_FIELD_KIND_STRING, def: defaultTxDeadline.String(),
		description: "How long Synchronize waits for the operator transaction before answering PENDING, as a Go duration."},
}

func configFields() []*provisioningv1.Field {
	out := make([]*provisioningv1.Field, 0, len(settingSpecs))
	for i, s := range settingSpecs {
		out = append(out, &provisioningv1.Field{
			Key: s.key, Label: s.label, Order: int32(i + 1), Kind: s.kind,
			Required: s.required, Sensitive: s.sensitive, Value: s.def, Description: s.description,
			AutoFill: s.def != "",
		})
	}
	return out
}

// parseConfig reads Configure's settings. It reports every problem at once,
// each as an error diagnostic whose field is the setting key; a message
// never repeats a setting's value, since it may be a secret pasted into the
// wrong key.
func parseConfig(settings map[string]string) (Config, []*provisioningv1.Diagnostic) {
	var ds []*provisioningv1.Diagnostic
	bad := func(key, code, summary, detail string) {
		ds = append(ds, diag.Error(key, code, summary, detail))
	}
	known := make(map[string]bool, len(settingSpecs))
	for _, s := range settingSpecs {
		known[s.key] = true
		if s.required && strings.TrimSpace(settings[s.key]) == "" {
			bad(s.key, diag.CodeRequired, "setting "+s.key+" is required", s.description)
		}
	}
	for k := range settings {
		if !known[k] {
			bad(k, diag.CodeUnknownField, "unknown setting "+strconv.Quote(k), "GetPluginInfo.config_fields lists the settings")
		}
	}

	c := Config{
		APIURL:         strings.TrimRight(strings.TrimSpace(settings[SettingAPIURL]), "/"),
		AccessID:       strings.TrimSpace(settings[SettingAccessID]),
		Password:       settings[SettingPassword],
		APIKey:         settings[SettingAPIKey],
		RootAccountID:  strings.TrimSpace(settings[SettingRootAccountID]),
		MaxTiers:       defaultMaxTiers,
		RequestTimeout: defaultRequestTimeout,
		TxPollInterval: defaultTxPollInterval,
		TxDeadline:     defaultTxDeadline,
	}
	if c.APIURL != "" {
		u, err := url.Parse(c.APIURL)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			bad(SettingAPIURL, diag.CodeInvalidValue, "setting api_url must be an absolute http or https URL", "")
		case u.User != nil:
			// The URL is logged and shown in messages; credentials belong in
			// access_id and password.
			bad(SettingAPIURL, diag.CodeInvalidValue, "setting api_url must not contain credentials", "put them in access_id and password")
		case u.RawQuery != "" || u.Fragment != "":
			bad(SettingAPIURL, diag.CodeInvalidValue, "setting api_url must not have a query or fragment", "")
		}
	}
	if c.RootAccountID != "" && strings.ContainsAny(c.RootAccountID, "/?# \t") {
		bad(SettingRootAccountID, diag.CodeInvalidValue, "setting root_account_id is not an account id", "Panda account ids look like ACC-0000001")
	}
	if v := strings.TrimSpace(settings[SettingMaxTiers]); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10 {
			bad(SettingMaxTiers, diag.CodeInvalidValue, "setting max_tiers must be an integer from 1 to 10", "")
		} else {
			c.MaxTiers = n
		}
	}
	duration := func(key string, dst *time.Duration, lo, hi time.Duration) {
		v := strings.TrimSpace(settings[key])
		if v == "" {
			return
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < lo || d > hi {
			bad(key, diag.CodeInvalidValue, fmt.Sprintf("setting %s must be a Go duration from %s to %s", key, lo, hi), "e.g. 250ms, 10s, 2m")
			return
		}
		*dst = d
	}
	duration(SettingRequestTimeout, &c.RequestTimeout, 100*time.Millisecond, 10*time.Minute)
	duration(SettingTxPollInterval, &c.TxPollInterval, time.Millisecond, time.Minute)
	duration(SettingTxDeadline, &c.TxDeadline, 0, 10*time.Minute)
	return c, ds
}

// Configure parses and checks the settings and, when they are valid, swaps
// them in atomically with a fresh Panda client: calls already running keep
// the configuration they started with. No remote call is made; Probe is the
// way to test the settings against Panda.
func (a *Adapter) Configure(ctx context.Context, req *provisioningv1.ConfigureRequest) (*provisioningv1.ConfigureResponse, error) {
	cfg, ds := parseConfig(req.GetSettings())
	if err := diag.ToError(ds); err != nil {
		return nil, err
	}
	if a.journalErr != nil {
		return nil, diag.Errorf(codes.Internal, "the adapter's journal in its data folder cannot be used: %v", a.journalErr)
	}
	api, err := a.newRemote(cfg)
	if err != nil {
		// parseConfig checked what the client checks; this is a bug, and
		// the client's own messages never hold a secret.
		return nil, diag.Errorf(codes.Internal, "build the Panda client: %v", err)
	}
	a.state.Store(&configured{cfg: cfg, api: api})
	a.logger.InfoContext(ctx, "configured", "config", cfg)
	return &provisioningv1.ConfigureResponse{}, nil
}
