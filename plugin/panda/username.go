package panda

import (
	"net/mail"
	"strconv"
	"strings"

	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// Panda's username rule: 5 to 65 characters of A-Z a-z 0-9 . - _ +, unique
// across the whole system (case-insensitively).
const (
	usernameMin = 5
	usernameMax = 65
	// maxVariants bounds the search for a free suggested username: each
	// candidate costs one request, and past a handful of collisions a person
	// should pick the name.
	maxVariants = 10
)

// validUsername reports whether u satisfies Panda's username syntax.
func validUsername(u string) bool {
	if len(u) < usernameMin || len(u) > usernameMax {
		return false
	}
	for i := 0; i < len(u); i++ {
		if !usernameByte(u[i]) {
			return false
		}
	}
	return true
}

func usernameByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return c == '.' || c == '-' || c == '_' || c == '+'
}

// genericLocalParts are mailbox names many companies share; a username made
// from one alone would collide across Panda (usernames are global), costing
// a request per taken variant, so the company is appended.
var genericLocalParts = map[string]bool{
	"info": true, "admin": true, "administrator": true, "it": true, "contact": true,
	"sales": true, "support": true, "office": true, "mail": true, "hello": true,
	"billing": true, "accounts": true, "accounting": true, "webmaster": true,
	"postmaster": true, "noreply": true, "no-reply": true, "team": true,
	"help": true, "service": true, "security": true, "tech": true, "hr": true,
}

// suggestUsername derives the username the form proposes (variant 1; see
// [usernameVariant] for the others):
//
//  1. the corporate email's local part, made to fit the character set
//     ("Jose.Nuñez@acme.es" → "jose.nunez");
//  2. when that is generic ("info", "admin", ...) or shorter than 5, the
//     company name's slug is appended after a dot ("info.acme-corp"), or the
//     slug alone when there is no usable email;
//  3. still shorter than 5 (e.g. "ab" with no company): padded with zeros;
//     nothing usable at all: "user0";
//  4. cut to 65 characters.
//
// The result always satisfies validUsername.
func suggestUsername(acc *provisioningv1.Account) string {
	local := ""
	if addr, ok := parseEmail(acc.GetCorporateEmail()); ok {
		local = sanitizeUsername(addr[:strings.LastIndexByte(addr, '@')])
	}
	company := sanitizeUsername(acc.GetName())
	base := local
	switch {
	case base == "":
		base = company
	case (genericLocalParts[base] || len(base) < usernameMin) && company != "" && company != base:
		base = base + "." + company
	}
	if base == "" {
		base = "user"
	}
	for len(base) < usernameMin {
		base += "0"
	}
	return trimUsername(base, usernameMax)
}

// usernameVariant is the n-th candidate for base: base itself for n <= 1,
// then base-2, base-3, ..., with base shortened so the whole fits 65.
func usernameVariant(base string, n int) string {
	if n <= 1 {
		return base
	}
	suffix := "-" + strconv.Itoa(n)
	return trimUsername(base, usernameMax-len(suffix)) + suffix
}

// trimUsername cuts u to at most n bytes without leaving a separator at the
// end, and pads it back to the minimum length if that made it too short.
func trimUsername(u string, n int) string {
	if len(u) > n {
		u = u[:n]
	}
	u = strings.TrimRight(u, ".-_+")
	for len(u) < usernameMin {
		u += "0"
	}
	return u
}

// foldRune maps common accented Latin letters to ASCII so that "Nuñez"
// suggests "nunez" rather than "nu-ez".
var foldRune = map[rune]string{
	'á': "a", 'à': "a", 'â': "a", 'ä': "a", 'ã': "a", 'å': "a", 'ā': "a",
	'é': "e", 'è': "e", 'ê': "e", 'ë': "e", 'ē': "e",
	'í': "i", 'ì': "i", 'î': "i", 'ï': "i",
	'ó': "o", 'ò': "o", 'ô': "o", 'ö': "o", 'õ': "o", 'ø': "o",
	'ú': "u", 'ù': "u", 'û': "u", 'ü': "u",
	'ñ': "n", 'ç': "c", 'ß': "ss", 'æ': "ae", 'œ': "oe", 'ý': "y", 'ÿ': "y",
	'ł': "l", 'š': "s", 'ž': "z", 'č': "c", 'ř': "r", 'ě': "e", 'ő': "o", 'ű': "u",
}

// sanitizeUsername lower-cases s, folds accents, keeps the username
// characters and turns every other run of characters into one "-"; leading
// and trailing separators are dropped. It may return "".
func sanitizeUsername(s string) string {
	var b strings.Builder
	afterSep := true // true at the start too: drops leading separators
	for _, r := range strings.ToLower(s) {
		var chunk string
		switch {
		case r < 0x80 && usernameByte(byte(r)):
			chunk = string(r)
		case foldRune[r] != "":
			chunk = foldRune[r]
		default:
			chunk = "-"
		}
		if len(chunk) == 1 && strings.Contains(".-_+", chunk) {
			if !afterSep {
				b.WriteString(chunk)
				afterSep = true
			}
			continue
		}
		b.WriteString(chunk)
		afterSep = false
		if b.Len() > 2*usernameMax {
			break // plenty to cut from
		}
	}
	return strings.TrimRight(b.String(), ".-_+")
}

// parseEmail returns the address when s is exactly one plain address
// (local@domain, the domain with a dot), as Panda needs to mail the
// activation instructions; no display name, no angle brackets.
func parseEmail(s string) (string, bool) {
	if s == "" || len(s) > 254 {
		return "", false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", false
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 {
		return "", false
	}
	domain := s[at+1:]
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") ||
		strings.ContainsAny(s, " \t\r\n") {
		return "", false
	}
	return s, true
}
