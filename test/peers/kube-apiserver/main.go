// Command kube-apiserver is the real Kubernetes API server, built from k8s.io/kubernetes for
// jwtgate's operator tests (test/support/kube-cluster.ts). Not part of the product.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	// Same blank imports as upstream cmd/kube-apiserver/apiserver.go: JSON log format and the
	// client-go/version Prometheus metrics the server registers at start-up.
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	command := app.NewAPIServerCommand()
	code := cli.Run(command)
	os.Exit(code)
}
