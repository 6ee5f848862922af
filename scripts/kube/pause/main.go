// Command pause is the pod sandbox process of the development cluster (scripts/cluster.ts): like
// registry.k8s.io/pause it holds the pod's namespaces, reaps children it inherits and exits on
// SIGINT or SIGTERM. It is packed as the image the cluster's containerd names as sandbox_image.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var status syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
