package loadtest

import (
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// FaultProxy is a reverse proxy in front of pandasim that answers a
// fraction of the API requests (/rest/...) 429 Too Many Requests with a
// Retry-After, before they reach the simulator: the simulator's own 429s
// come only from its rate limit, while a chaos run wants them at random.
// Decisions come from a seeded RNG.
type FaultProxy struct {
	// URL is the proxy's base URL: configure the plugin with it.
	URL string
	// Injected counts the 429s the proxy answered.
	Injected atomic.Int64
	// Forwarded counts the requests passed to the simulator.
	Forwarded atomic.Int64

	srv  *http.Server
	ln   net.Listener
	mu   sync.Mutex
	rng  *rand.Rand
	rate float64
	wait time.Duration
}

// StartFaultProxy proxies to target (the simulator's base URL), answering
// rate (0..1) of the API requests 429 with Retry-After: retryAfter, rounded
// up to whole seconds as the simulator does.
func StartFaultProxy(target string, rate float64, retryAfter time.Duration, seed uint64) (*FaultProxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &FaultProxy{URL: "http://" + ln.Addr().String(), ln: ln, rng: rand.New(rand.NewPCG(seed, seed^0x5bd1e995)), rate: rate, wait: retryAfter}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{MaxIdleConnsPerHost: 256, IdleConnTimeout: 30 * time.Second}
	rp.ErrorLog = nil
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/rest/") && p.inject() {
			p.Injected.Add(1)
			secs := max(1, int((p.wait+time.Second-1)/time.Second))
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"error":{"code":"RATE_LIMITED","message":"too many requests (injected by the load-test proxy)"}}`))
			return
		}
		p.Forwarded.Add(1)
		rp.ServeHTTP(w, r)
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

func (p *FaultProxy) inject() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rate > 0 && p.rng.Float64() < p.rate
}

// SetRate changes the fraction of API requests answered 429.
func (p *FaultProxy) SetRate(rate float64) {
	p.mu.Lock()
	p.rate = rate
	p.mu.Unlock()
}

// Close stops the proxy.
func (p *FaultProxy) Close() error { return p.srv.Close() }
