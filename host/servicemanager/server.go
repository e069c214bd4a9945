package servicemanager

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
)

// Host is what the server needs of the provisioning host: the HostService
// RPCs the routes map to. [hostv1.HostServiceClient] satisfies it, so the
// server can sit in front of the daemon's own gRPC server (in-process over
// a bufconn) or a remote daemon.
type Host interface {
	GetSyncOptions(ctx context.Context, in *hostv1.GetSyncOptionsRequest, opts ...grpc.CallOption) (*hostv1.GetSyncOptionsResponse, error)
	ValidateSyncOptions(ctx context.Context, in *hostv1.ValidateSyncOptionsRequest, opts ...grpc.CallOption) (*hostv1.ValidateSyncOptionsResponse, error)
	Synchronize(ctx context.Context, in *hostv1.SynchronizeRequest, opts ...grpc.CallOption) (*hostv1.SynchronizeResponse, error)
	GetSyncRecord(ctx context.Context, in *hostv1.GetSyncRecordRequest, opts ...grpc.CallOption) (*hostv1.GetSyncRecordResponse, error)
	DeleteAccount(ctx context.Context, in *hostv1.DeleteAccountRequest, opts ...grpc.CallOption) (*hostv1.DeleteAccountResponse, error)
	GetServiceDefinition(ctx context.Context, in *hostv1.GetServiceDefinitionRequest, opts ...grpc.CallOption) (*hostv1.GetServiceDefinitionResponse, error)
	ValidateSubscription(ctx context.Context, in *hostv1.ValidateSubscriptionRequest, opts ...grpc.CallOption) (*hostv1.ValidateSubscriptionResponse, error)
	ProvisionSubscription(ctx context.Context, in *hostv1.ProvisionSubscriptionRequest, opts ...grpc.CallOption) (*hostv1.ProvisionSubscriptionResponse, error)
	SuspendSubscription(ctx context.Context, in *hostv1.SuspendSubscriptionRequest, opts ...grpc.CallOption) (*hostv1.SuspendSubscriptionResponse, error)
	ResumeSubscription(ctx context.Context, in *hostv1.ResumeSubscriptionRequest, opts ...grpc.CallOption) (*hostv1.ResumeSubscriptionResponse, error)
	CancelSubscription(ctx context.Context, in *hostv1.CancelSubscriptionRequest, opts ...grpc.CallOption) (*hostv1.CancelSubscriptionResponse, error)
	GetSubscriptionRecord(ctx context.Context, in *hostv1.GetSubscriptionRecordRequest, opts ...grpc.CallOption) (*hostv1.GetSubscriptionRecordResponse, error)
}

// Headers interworks sends on every call.
const (
	HeaderApplicationID = "X-CloudPlatform-ApplicationId"
	HeaderAPIKey        = "X-CloudPlatform-APIKey"
	HeaderTrackID       = "X-CloudPlatform-TrackId"
)

// Credentials are what a BSS must present to call one plugin's endpoint.
type Credentials struct {
	ApplicationID string
	// APIKey is a secret; the server never logs it.
	APIKey string
}

// Defaults of the options.
const (
	DefaultMaxBodyBytes = 1 << 20
	DefaultCallTimeout  = 60 * time.Second
	// defaultRetryAfter is the Retry-After of a transient failure whose
	// error carries no RetryInfo.
	defaultRetryAfter = 5 * time.Second
)

type options struct {
	logger      *slog.Logger
	registerer  prometheus.Registerer
	maxBody     int64
	callTimeout time.Duration
}

// Option configures [New].
type Option func(*options)

// WithLogger sets the logger (default: discard). Every line of a request
// carries its track_id.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithMetrics registers the server's collectors with r.
func WithMetrics(r prometheus.Registerer) Option { return func(o *options) { o.registerer = r } }

// WithMaxBodyBytes bounds a request body (default [DefaultMaxBodyBytes]);
// larger bodies answer 413.
func WithMaxBodyBytes(n int64) Option { return func(o *options) { o.maxBody = n } }

// WithCallTimeout bounds the host calls of one request (default
// [DefaultCallTimeout]); past it the answer is 503 with Retry-After, which
// is safe because every mapped RPC is idempotent.
func WithCallTimeout(d time.Duration) Option { return func(o *options) { o.callTimeout = d } }

// Server serves interworks' Service Management API for the plugins it has
// credentials for, one base per plugin: /{plugin}/api/{Group}/{Action}.
// It is an [http.Handler].
type Server struct {
	host    Host
	creds   map[string]Credentials
	log     *slog.Logger
	maxBody int64
	timeout time.Duration
	metrics *metrics
}

// ErrNoCredentials is returned by [New] when no plugin has credentials: an
// endpoint nobody may call is a configuration mistake.
var ErrNoCredentials = errors.New("service manager: no plugin has service_manager credentials")

// New returns the server. creds maps plugin names to the credentials its
// caller must present; plugins without an entry are not served (their
// routes answer 401, like a wrong key, so names cannot be probed).
func New(h Host, creds map[string]Credentials, opts ...Option) (*Server, error) {
	o := options{logger: slog.New(slog.DiscardHandler), maxBody: DefaultMaxBodyBytes, callTimeout: DefaultCallTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	if len(creds) == 0 {
		return nil, ErrNoCredentials
	}
	cp := make(map[string]Credentials, len(creds))
	for name, c := range creds {
		if c.ApplicationID == "" || c.APIKey == "" {
			return nil, fmt.Errorf("service manager: plugin %q: application id and API key are both required", name)
		}
		cp[strings.ToLower(name)] = c
	}
	m, err := newMetrics(o.registerer)
	if err != nil {
		return nil, fmt.Errorf("service manager metrics: %w", err)
	}
	return &Server{host: h, creds: cp, log: o.logger, maxBody: o.maxBody, timeout: o.callTimeout, metrics: m}, nil
}

// call is one request on its way through a route.
type call struct {
	ctx       context.Context
	plugin    string
	route     string
	trackID   string
	log       *slog.Logger
	checkOnly bool
	body      []byte
}

// badRequest marks a body that is not the call's JSON at all: HTTP 400
// (Code -3), a caller's bug rather than a business error.
type badRequest struct{ error }

func (b badRequest) Unwrap() error { return b.error }

// GRPCStatus keeps the wrapped status's message as it is.
func (b badRequest) GRPCStatus() *status.Status { return status.Convert(b.error) }

// decode reads the body into v: an empty body or malformed JSON is
// INVALID_ARGUMENT on "body" (or the property of the wrong type), answered
// with HTTP 400.
func (c *call) decode(v any) error {
	if err := c.decodeJSON(v); err != nil {
		return badRequest{err}
	}
	return nil
}

func (c *call) decodeJSON(v any) error {
	if len(strings.TrimSpace(string(c.body))) == 0 {
		return invalid("body", "the request body is empty; send the JSON object of this call")
	}
	if err := json.Unmarshal(c.body, v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te):
			return invalid(te.Field, fmt.Sprintf("%s must be a JSON %s", te.Field, jsonKind(te.Type.Kind().String())))
		case errors.As(err, &se):
			return invalid("body", fmt.Sprintf("the body is not valid JSON (offset %d)", se.Offset))
		}
		return invalid("body", "the body is not the expected JSON object: "+clip(err.Error(), 200))
	}
	return nil
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "map", "struct":
		return "object"
	case "slice", "array":
		return "array"
	}
	return "number"
}

// handler is a route: its answer is a [Result] (or another JSON value), or
// an error carrying a gRPC status.
type handler func(s *Server, c *call) (any, error)

type route struct {
	name   string // canonical, e.g. "Accounts/Synchronize": the metrics label
	method string
	handle handler
}

// routes by lower-cased path after /{plugin}/api/.
var routes = map[string]route{}

func register(method, name string, h handler) {
	routes[strings.ToLower(name)] = route{name: name, method: method, handle: h}
}

func init() {
	register(http.MethodGet, "Accounts/SyncOptions", (*Server).syncOptions)
	register(http.MethodPost, "Accounts/Synchronize", (*Server).synchronize)
	register(http.MethodPost, "Accounts/Exists", (*Server).exists)
	register(http.MethodPost, "Accounts/Delete", (*Server).deleteAccount)
	registerSubscriptionRoutes()
}

// ServeHTTP routes /{plugin}/api/{Group}/{Action}, case-insensitively.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	trackID := trackIDOf(r)
	plugin, rt, ok := s.match(r.URL.Path)
	// The segment is the caller's: bound what reaches the log (a plugin
	// name is at most 63 characters).
	plugin = clip(plugin, 64)
	routeName := "unknown"
	if ok {
		routeName = rt.name
	}
	log := s.log.With("track_id", trackID, "plugin", plugin, "route", routeName)
	rec := &recorder{w: w}
	defer func() {
		// An unknown caller picks the plugin segment: keep the label set
		// bounded.
		label := plugin
		if _, known := s.creds[plugin]; !known {
			label = "other"
		}
		s.metrics.observe(label, routeName, rec.status, rec.code, time.Since(start))
	}()

	// Authentication first: an unauthenticated caller learns nothing, not
	// even which routes or plugins exist.
	if !s.authorized(plugin, r) {
		log.Warn("service manager call refused: unknown application id or API key", "remote", r.RemoteAddr)
		rec.write(http.StatusUnauthorized, Result{Code: -16, Message: "unknown " + HeaderApplicationID + " or " + HeaderAPIKey + " for this endpoint"}, 0)
		return
	}
	if !ok {
		rec.write(http.StatusNotFound, Result{Code: -5, Message: "no such Service Management route: " + clip(r.URL.Path, 100)}, 0)
		return
	}
	if headOfGet := rt.method == http.MethodGet && r.Method == http.MethodHead; r.Method != rt.method && !headOfGet {
		w.Header().Set("Allow", rt.method)
		rec.write(http.StatusMethodNotAllowed, Result{Code: -3, Message: rt.name + " takes " + rt.method}, 0)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			rec.write(http.StatusRequestEntityTooLarge, Result{Code: -3, Message: fmt.Sprintf("the body is larger than %d bytes", s.maxBody)}, 0)
			return
		}
		log.Warn("read request body", "error", err)
		rec.write(http.StatusBadRequest, Result{Code: -3, Message: "the request body could not be read"}, 0)
		return
	}
	checkOnly, err := queryCheckOnly(r)
	if err != nil {
		rec.write(http.StatusOK, Result{Code: -3, Message: err.Error()}, 0)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
	defer cancel()
	c := &call{ctx: ctx, plugin: plugin, route: rt.name, trackID: trackID, log: log, checkOnly: checkOnly, body: body}
	out, err := rt.handle(s, c)
	if err != nil {
		a := answerFor(err, rt.name, trackID)
		if a.status >= 500 && a.status != http.StatusNotImplemented && a.status != http.StatusServiceUnavailable {
			log.Error("service manager call failed", "code", a.grpcCode, "error", err)
		} else if a.status >= 500 {
			log.Warn("service manager call not done", "code", a.grpcCode, "message", a.result.Message)
		} else {
			log.Info("service manager call refused", "code", a.grpcCode, "message", a.result.Message)
		}
		rec.write(a.status, a.result, a.retryAfter)
		return
	}
	if res, ok := out.(Result); ok {
		rec.code = res.Code
	}
	log.Info("service manager call", "check_only", c.checkOnly, "duration", time.Since(start).Round(time.Millisecond))
	rec.write(http.StatusOK, out, 0)
}

// match splits /{plugin}/api/{route...}. Plugin names are lower-cased:
// catalog names are lower-case DNS labels and interworks URLs are matched
// without regard to case.
func (s *Server) match(path string) (plugin string, rt route, ok bool) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	if len(segs) < 4 || !strings.EqualFold(segs[1], "api") {
		if len(segs) > 0 {
			return strings.ToLower(segs[0]), route{}, false
		}
		return "", route{}, false
	}
	plugin = strings.ToLower(segs[0])
	key := strings.ToLower(strings.Join(segs[2:], "/"))
	// interworks' guide writes the add-on routes both API/Addon/Create and
	// Addons/Create.
	if rest, found := strings.CutPrefix(key, "addon/"); found {
		key = "addons/" + rest
	}
	rt, ok = routes[key]
	return plugin, rt, ok
}

// authorized checks both headers against the plugin's credentials in
// constant time: SHA-256 digests are compared, so neither the content nor
// the length of the key shows in the timing, and both are compared whatever
// the first gives, so timing tells nothing about which was wrong.
func (s *Server) authorized(plugin string, r *http.Request) bool {
	c, ok := s.creds[plugin]
	if !ok {
		// Compare anyway so an unknown plugin costs what a known one does.
		c = Credentials{ApplicationID: "\x00unknown", APIKey: "\x00unknown"}
	}
	id := equalDigest(r.Header.Get(HeaderApplicationID), c.ApplicationID)
	key := equalDigest(r.Header.Get(HeaderAPIKey), c.APIKey)
	return ok && id&key == 1
}

func equalDigest(got, want string) int {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:])
}

// queryCheckOnly reads ?checkonly=true (the key in any case).
func queryCheckOnly(r *http.Request) (bool, error) {
	for k, vs := range r.URL.Query() {
		if !strings.EqualFold(k, "checkonly") || len(vs) == 0 {
			continue
		}
		b, err := strconv.ParseBool(strings.ToLower(vs[len(vs)-1]))
		if err != nil {
			return false, errors.New("checkonly must be true or false")
		}
		return b, nil
	}
	return false, nil
}

// trackIDOf is interworks' correlation id, made safe to log (printable, at
// most 64 characters), or a fresh random one when the call has none.
func trackIDOf(r *http.Request) string {
	id := strings.Map(func(r rune) rune {
		if r > unicode.MaxASCII || !unicode.IsPrint(r) || r == ' ' {
			return -1
		}
		return r
	}, r.Header.Get(HeaderTrackID))
	if len(id) > 64 {
		id = id[:64]
	}
	if id == "" {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		id = "local-" + hex.EncodeToString(b)
	}
	return id
}

// recorder writes the answer once and remembers its status and Code.
type recorder struct {
	w      http.ResponseWriter
	status int
	code   int
}

func (rec *recorder) write(status int, v any, retryAfter time.Duration) {
	if res, ok := v.(Result); ok {
		rec.code = res.Code
	}
	rec.status = status
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		rec.status, rec.code = status, -13
		b = []byte(`{"Code":-13,"Message":"the answer could not be encoded","Result":""}`)
	}
	h := rec.w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int((retryAfter+time.Second-1)/time.Second)))
	}
	rec.w.WriteHeader(status)
	_, _ = rec.w.Write(append(b, '\n'))
}

// clip cuts s to n bytes on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
