package plugin

// The environment of the plugin protocol, in one place. A host sets some of
// these variables for the plugins it launches, a person sets others to debug
// or profile a plugin, and go-plugin sets its own; every name a plugin or a
// host reads is listed here.
//
// Set by the host for each plugin it launches ([Launcher]):
//
//	PROVISIONING_PLUGIN_MAGIC_COOKIE  the handshake cookie (not a secret: it
//	                                  tells a binary it was started by a host,
//	                                  not by a person; [Serve] explains itself
//	                                  when it is missing)
//	PROVISIONING_PLUGIN_DATA_DIR      [DataDirEnv], the plugin's own folder
//	PLUGIN_PROTOCOL_VERSIONS          go-plugin: the protocol versions the host
//	                                  speaks ([ProtocolVersion])
//	PLUGIN_CLIENT_CERT                go-plugin: the host's AutoMTLS certificate
//	PLUGIN_MIN_PORT, PLUGIN_MAX_PORT  go-plugin: the TCP port range (unused
//	                                  on Unix, where plugins serve on a socket)
//	PLUGIN_MULTIPLEX_GRPC             go-plugin: broker multiplexing; never
//	                                  set, the protocol uses no broker
//	PLUGIN_UNIX_SOCKET_DIR            go-plugin: where the plugin puts its
//	                                  socket; a host gives each process a
//	                                  private folder ([WithSocketDir])
//
// Set by a person to debug, on a plugin run by hand or on provctl or a host
// (a [Launcher] keeps both out of the plugins it starts, which would
// otherwise skip the handshake):
//
//	PROVISIONING_PLUGIN_DEBUG         [DebugEnv], serve in debug mode
//	PROVISIONING_PLUGIN_REATTACH      [ReattachEnv], attach instead of launch
//
// Set by a person on the plugin or on the host, which passes these on to
// its plugins (a [Launcher] passes only an allowlist of the host's
// environment: these, PATH, HOME, TMPDIR, USER, LOGNAME, TZ, LANG and LC_*;
// anything else a plugin needs comes from its catalog entry's env):
//
//	PROVISIONING_PLUGIN_PPROF         [PprofEnv], serve Go profiles
//	PROVISIONING_PLUGIN_LOG_LEVEL     [LogLevelEnv], the plugin's log level
//	PLUGIN_UNIX_SOCKET_GROUP          go-plugin: the group owning the socket
//
// Anything else a plugin reads comes from its catalog entry's env (a
// [Launcher]'s [WithEnv]) and is the plugin's own business.

// DebugEnv runs a plugin in debug mode when set to 1 or true (as does the
// --debug flag): it serves on a local address without a host and prints the
// reattach configuration for provctl or a host (see [ReattachEnv]).
const DebugEnv = "PROVISIONING_PLUGIN_DEBUG"

// ReattachEnv is the environment variable provctl and hosts read to attach to
// a plugin running in debug mode instead of launching one. Its value is the
// JSON form of [ReattachInfo].
const ReattachEnv = "PROVISIONING_PLUGIN_REATTACH"

// PprofEnv names a loopback address, such as 127.0.0.1:6061, where a plugin
// started by a host also serves Go profiles (/debug/pprof/), so that its CPU
// and memory can be profiled under load. A host passes its own environment to
// its plugins: set it on the host's process. Off when unset; keep the address
// private.
const PprofEnv = "PROVISIONING_PLUGIN_PPROF"

// DataDirEnv names the folder a plugin may keep files in, one per plugin,
// created by the host with mode 0700 (see [WithDataDir]). Unset when the host
// has no data folder.
const DataDirEnv = "PROVISIONING_PLUGIN_DATA_DIR"

// LogLevelEnv sets the level of [Logger] in a plugin: debug, info, warn or
// error (default info).
const LogLevelEnv = "PROVISIONING_PLUGIN_LOG_LEVEL"

// The go-plugin handshake cookie. It is not a secret: it only tells a binary
// that it was started by a provisioning host and not by a person.
const (
	magicCookieKey   = "PROVISIONING_PLUGIN_MAGIC_COOKIE"
	magicCookieValue = "7c1b0f6e2a4d4f3e9b8a5d6c3e2f1a0b-provisioning.v1"
)
