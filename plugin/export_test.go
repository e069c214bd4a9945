package plugin

// Exported for the external tests, which start a plugin binary by hand.

// ClientTLS is clientTLS.
var ClientTLS = clientTLS

// MagicCookie is the handshake cookie, as the environment entry a host sets.
const MagicCookie = magicCookieKey + "=" + magicCookieValue
