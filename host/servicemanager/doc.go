// Package servicemanager serves interworks Cloud BSS's Service Management
// API in front of a provisioning host: the REST "service manager" that
// interworks calls to provision accounts and orders, translated to the
// host's HostService RPCs for any plugin.
//
// One base per plugin, /{plugin}/api/{Group}/{Action}, routes matched
// without regard to case, JSON bodies shaped like interworks' SDK models,
// answers in interworks' envelope {Code, Message, Result}. Every call must
// carry the plugin's X-CloudPlatform-ApplicationId and
// X-CloudPlatform-APIKey (compared in constant time; 401 otherwise);
// X-CloudPlatform-TrackId is the correlation id of every log line of the
// call.
//
// The package translates only: rules live in the plugins, state in the
// host. It must not learn any one plugin's rules (the Panda username
// syntax, its roles); what it needs of a plugin it asks through the host
// (the form, the check-only pass). It never logs an API key or a request
// body.
package servicemanager
