package pandasim

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"
	"time"
)

// TokenResponse is the answer of POST /oauth/token.
type TokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	// ExpiresIn is the token lifetime in whole seconds.
	ExpiresIn int `json:"expires_in"`
}

// handleToken implements the OAuth2 client-credentials grant: HTTP Basic
// with the access id and password, form grant_type=client_credentials and
// scope=api-access. It needs no API key.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	id, pw, ok := r.BasicAuth()
	if !ok || !equal(id, s.accessID) || !equal(pw, s.password) {
		w.Header().Set("WWW-Authenticate", `Basic realm="pandasim"`)
		writeError(w, errorf(http.StatusUnauthorized, CodeInvalidClient, "client authentication failed"))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if err := r.ParseForm(); err != nil {
		writeError(w, errorf(http.StatusBadRequest, CodeInvalidRequest, "malformed form body"))
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		writeError(w, errorf(http.StatusBadRequest, CodeUnsupportedGrantType, "grant_type must be client_credentials, not %q", gt))
		return
	}
	if sc := r.PostForm.Get("scope"); sc != "api-access" {
		writeError(w, errorf(http.StatusBadRequest, CodeInvalidScope, "scope must be api-access, not %q", sc))
		return
	}
	var b [24]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails on supported platforms
	tok := hex.EncodeToString(b[:])
	now := s.now()
	s.tokMu.Lock()
	if len(s.tokens) >= 1024 {
		// Drop expired tokens now and then so a long run doesn't grow.
		for t, exp := range s.tokens {
			if !now.Before(exp) {
				delete(s.tokens, t)
			}
		}
	}
	s.tokens[tok] = now.Add(s.tokenTTL)
	s.tokMu.Unlock()
	s.stats.tokensIssued.Add(1)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, TokenResponse{
		AccessToken: tok,
		TokenType:   "Bearer",
		ExpiresIn:   max(1, int(s.tokenTTL/time.Second)),
	})
}

// authenticate checks the bearer token (401) and the API key (403).
func (s *Server) authenticate(r *http.Request) *apiError {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		return errorf(http.StatusUnauthorized, CodeInvalidToken, "missing bearer token")
	}
	s.tokMu.Lock()
	exp, known := s.tokens[tok]
	s.tokMu.Unlock()
	if !known {
		return errorf(http.StatusUnauthorized, CodeInvalidToken, "unknown or revoked access token")
	}
	if !s.now().Before(exp) {
		return errorf(http.StatusUnauthorized, CodeTokenExpired, "access token expired")
	}
	key := r.Header.Get("WatchGuard-API-Key")
	if key == "" {
		return errorf(http.StatusForbidden, CodeInvalidAPIKey, "missing WatchGuard-API-Key header")
	}
	if !equal(key, s.apiKey) {
		return errorf(http.StatusForbidden, CodeInvalidAPIKey, "API key not accepted")
	}
	return nil
}

func equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// RevokeTokens forgets every access token, as if the server had rotated its
// keys: the next API call of every client gets a 401.
func (s *Server) RevokeTokens() {
	s.tokMu.Lock()
	clear(s.tokens)
	s.tokMu.Unlock()
}
