// Command etcd is etcd's own server entry point, built from the go.etcd.io
// modules pinned in ../go.mod (the release Kubernetes v1.35 is tested with),
// because Debian's etcd-server is 3.4 and Kubernetes 1.35 wants 3.5 or newer.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
