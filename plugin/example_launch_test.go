package plugin_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/cloudbss/provisioning/plugin"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// A host launches a plugin binary, calls it and stops it: Terminate lets the
// plugin finish its in-flight calls, and Kill removes its whole process group
// (children included) if it is still there. The provisioning host adds restarts, health checks and draining on
// top of this.
//
// This example is compiled, not run: it needs a plugin binary.
func ExampleLauncher() {
	l := plugin.NewLauncher("/opt/plugins/provisioning-plugin-panda",
		plugin.WithEnv(map[string]string{"PANDA_REGION": "eu"}),
		plugin.WithDataDir("/var/lib/provisioning/plugins/panda"),
		plugin.WithClientLogger(slog.Default().With("plugin", "panda")),
	)
	p, err := l.Start()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Kill()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := p.Adapter().GetPluginInfo(ctx, &provisioningv1.GetPluginInfoRequest{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(info.GetName(), info.GetVersion())

	// Stop gracefully; the deferred Kill cleans up what is left.
	_ = p.Terminate()
	for deadline := time.Now().Add(5 * time.Second); !p.Exited() && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
}
