package panda

// Hooks for the black-box tests in package panda_test.

// LockRefs is the number of Synchronize calls holding or waiting for the
// lock of accountID.
func (a *Adapter) LockRefs(accountID string) int {
	a.locks.mu.Lock()
	defer a.locks.mu.Unlock()
	if l := a.locks.m[accountID]; l != nil {
		return l.refs
	}
	return 0
}

// Exported for the tests of the username rules.
var (
	SuggestUsername  = suggestUsername
	UsernameVariant  = usernameVariant
	SanitizeUsername = sanitizeUsername
	ParseEmail       = parseEmail
)

// Exported for the tests of the settings and the username syntax.
var (
	ParseConfig   = parseConfig
	ValidUsername = validUsername
)

// Version is what GetPluginInfo reports.
const Version = version
