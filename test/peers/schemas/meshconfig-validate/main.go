// Command meshconfig-validate strictly decodes Istio mesh configuration YAML into Istio's own
// MeshConfig type (istio.io/api/mesh/v1alpha1), so a misspelt field, a wrong type or an
// unknown enum value in docs/ and examples/istio/ fails a test instead of a rollout.
//
// It checks what the type system can: field names, value types, enum names, durations. It does
// not run istiod's semantic validation (istio.io/istio pkg/config/validation), which would pull
// in the whole control plane.
//
// Usage:
//
//	meshconfig-validate FILE            # FILE holds MeshConfig fields at the top level
//	meshconfig-validate -key meshConfig FILE   # ...or under one top-level key (istiod Helm values)
//
// Exit status 0 and "ok" when valid; 1 with the decoder's error on stderr otherwise.
package main

import (
	"flag"
	"fmt"
	"os"

	"google.golang.org/protobuf/encoding/protojson"
	meshconfig "istio.io/api/mesh/v1alpha1"
	"sigs.k8s.io/yaml"
)

func main() {
	key := flag.String("key", "", "validate only the value of this top-level key, and refuse any other top-level key")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: meshconfig-validate [-key KEY] FILE")
		os.Exit(2)
	}
	if err := validate(flag.Arg(0), *key); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", flag.Arg(0), err)
		os.Exit(1)
	}
	fmt.Println("ok")
}

func validate(path, key string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if key != "" {
		var top map[string]any
		// UnmarshalStrict also refuses duplicate keys, which YAML parsers otherwise resolve silently.
		if err := yaml.UnmarshalStrict(data, &top); err != nil {
			return err
		}
		for k := range top {
			if k != key {
				return fmt.Errorf("unexpected top-level key %q (only %q is validated)", k, key)
			}
		}
		if top[key] == nil {
			return fmt.Errorf("no %q key", key)
		}
		if data, err = yaml.Marshal(top[key]); err != nil {
			return err
		}
	}
	// Istio reads mesh config the same way: YAML -> JSON -> protojson (pkg/util/protomarshal).
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return err
	}
	var mesh meshconfig.MeshConfig
	// DiscardUnknown=false: an unknown field is an error, not silently dropped.
	return protojson.UnmarshalOptions{DiscardUnknown: false}.Unmarshal(js, &mesh)
}
