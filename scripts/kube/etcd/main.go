// Command etcd is the upstream etcd server (the version k8s.io/kubernetes itself
// requires), built from the Go module proxy as the storage for the test API server.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
