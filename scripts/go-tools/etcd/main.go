// Command etcd is etcd's server (go.etcd.io/etcd/server/v3 at ETCD_VERSION in versions.env), built by
// scripts/install-tools.sh. The upstream main package lives in a module that is not published on its
// own, so this calls the same entry point it does.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
