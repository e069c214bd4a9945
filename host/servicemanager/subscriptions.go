package servicemanager

import "net/http"

// subscriptionRoutes are interworks' subscription and add-on calls. The
// host's subscription RPCs are not in this build yet: each answers 501
// (Code -12) after checking its body, so interworks shows a clear message
// rather than a 404.
var subscriptionRoutes = []string{
	"Subscriptions/Create", "Subscriptions/Update", "Subscriptions/UpgradeToPaid",
	"Subscriptions/Suspend", "Subscriptions/Activate", "Subscriptions/Cancel",
	"Addons/Create", "Addons/Update", "Addons/Cancel",
}

func registerSubscriptionRoutes() {
	for _, name := range subscriptionRoutes {
		register(http.MethodPost, name, func(s *Server, c *call) (any, error) {
			return nil, unimplemented(name + " is not supported yet: the host has no subscription RPCs")
		})
	}
	register(http.MethodGet, "Fields/ServiceDefinition", func(s *Server, c *call) (any, error) {
		return nil, unimplemented("Fields/ServiceDefinition is not supported yet: the host has no GetServiceDefinition")
	})
}
