// A test peer: strict decoding of Istio mesh config with Istio's own types. Built by
// test/peers/schemas/install.sh; its istio.io/api version is the Istio pin of the guide tests.
module jwtgate.dev/test/peers/schemas/meshconfig-validate

go 1.24.0

require (
	google.golang.org/protobuf v1.36.11
	istio.io/api v1.31.1
	sigs.k8s.io/yaml v1.6.0
)

require (
	github.com/golang/protobuf v1.5.4 // indirect
	go.yaml.in/yaml/v2 v2.4.2 // indirect
	google.golang.org/genproto/googleapis/api v0.0.0-20251213004720-97cd9d5aeac2 // indirect
)
