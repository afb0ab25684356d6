// Command etcd is the real etcd server, built from go.etcd.io/etcd/server/v3 as the storage
// behind the test kube-apiserver (test/support/kube-cluster.ts). Not part of the product.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
