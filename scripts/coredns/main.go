// Command coredns is upstream CoreDNS with its default plugins, built from the Go module proxy as
// the cluster DNS of the development cluster (scripts/cluster.ts). It mirrors coredns.go of
// github.com/coredns/coredns.
package main

import (
	_ "github.com/coredns/coredns/core/plugin" // the plugins of plugin.cfg, as upstream
	"github.com/coredns/coredns/coremain"
)

func main() {
	coremain.Run()
}
