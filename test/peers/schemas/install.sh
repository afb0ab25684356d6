#!/usr/bin/env bash
# Fetches the real CRDs the integration guides are checked against (Istio, Envoy Gateway,
# Gateway API) and builds meshconfig-validate (Istio mesh config, strictly decoded with Istio's
# own types), for test/integration/guides.test.ts.
#
# Everything comes from the Go module proxy (`go mod download`: a module's files, no build of
# the projects themselves) and lands in ${JWTGATE_PEERS_DIR:-~/.cache/jwtgate-peers}, never in
# the repo:  schemas/crds/*.yaml  and  bin/meshconfig-validate.
# Idempotent: a step whose recorded pin matches is skipped.
#
# Pins: Istio is the istio.io/api version in meshconfig-validate/go.mod (one Istio version for
# both the CRDs and the mesh config type); Envoy Gateway and Gateway API are below. Gateway API
# is the version Envoy Gateway's own go.mod requires, so the pair is one its CI tested.
#
# Usage:  test/peers/schemas/install.sh     # prints the schemas directory on stdout
set -euo pipefail

ENVOY_GATEWAY_VERSION=v1.9.1
GATEWAY_API_VERSION=v1.6.1
# Gateway API standard-channel CRDs the guides use (the rest are not needed to check them).
GATEWAY_API_KINDS=(gatewayclasses gateways httproutes referencegrants)
# Envoy Gateway CRDs the guides use.
ENVOY_GATEWAY_KINDS=(securitypolicies clienttrafficpolicies)

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PEERS_DIR="${JWTGATE_PEERS_DIR:-$HOME/.cache/jwtgate-peers}"
SCHEMAS="$PEERS_DIR/schemas"
BIN="$PEERS_DIR/bin"
export GOTOOLCHAIN=local CGO_ENABLED=0
export GOMODCACHE="$PEERS_DIR/gomodcache" GOCACHE="$PEERS_DIR/gocache"
mkdir -p "$SCHEMAS" "$BIN"

log() { echo "[peers/schemas] $*" >&2; }

istio_version="$(awk '$1 == "require" && $2 == "istio.io/api" { print $3 } $1 == "istio.io/api" { print $2 }' \
  "$HERE/meshconfig-validate/go.mod" | head -1)"

# Prints the directory of MODULE@VERSION in the module cache, downloading it if needed.
# Run outside any module (cd /) so no go.mod around us is consulted or changed.
module_dir() {
  (cd / && GOFLAGS= go mod download -json "$1") | sed -n 's/^\s*"Dir": "\(.*\)",\?$/\1/p'
}

# Copies the CRDs into SCHEMAS/crds, replacing the directory in one rename.
install_crds() {
  local istio_dir eg_dir ga_dir tmp kind
  istio_dir="$(module_dir "istio.io/api@$istio_version")"
  eg_dir="$(module_dir "github.com/envoyproxy/gateway@$ENVOY_GATEWAY_VERSION")"
  ga_dir="$(module_dir "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION")"
  tmp="$(mktemp -d "$SCHEMAS/.crds.XXXXXX")"
  cp "$istio_dir/kubernetes/customresourcedefinitions.gen.yaml" "$tmp/istio-$istio_version.yaml"
  for kind in "${GATEWAY_API_KINDS[@]}"; do
    cp "$ga_dir/config/crd/standard/gateway.networking.k8s.io_$kind.yaml" "$tmp/gateway-api-$GATEWAY_API_VERSION-$kind.yaml"
  done
  for kind in "${ENVOY_GATEWAY_KINDS[@]}"; do
    cp "$eg_dir/charts/gateway-helm/charts/crds/crds/generated/gateway.envoyproxy.io_$kind.yaml" \
      "$tmp/envoy-gateway-$ENVOY_GATEWAY_VERSION-$kind.yaml"
  done
  chmod 644 "$tmp"/*.yaml  # the module cache is read-only; the copies need not be
  rm -rf "$SCHEMAS/crds"
  mv "$tmp" "$SCHEMAS/crds"
}

# Builds meshconfig-validate from its committed go.mod/go.sum (never rewriting them).
build_meshconfig_validate() {
  (cd "$HERE/meshconfig-validate" &&
    GOFLAGS="-mod=readonly -buildvcs=false" go build -trimpath -ldflags "-s -w" -o "$BIN/.meshconfig-validate.tmp" .)
  mv -f "$BIN/.meshconfig-validate.tmp" "$BIN/meshconfig-validate"
}

# Runs STEP unless STAMP_FILE already holds PIN, then records PIN.
run_pinned() {
  local stamp_file="$1" pin="$2"
  shift 2
  if [[ -f "$stamp_file" && "$(cat "$stamp_file")" == "$pin" ]]; then
    log "$pin: cached"
    return
  fi
  log "$pin: installing..."
  "$@"
  echo "$pin" >"$stamp_file"
}

run_pinned "$SCHEMAS/.crds.version" \
  "crds istio.io/api@$istio_version envoy-gateway@$ENVOY_GATEWAY_VERSION (${ENVOY_GATEWAY_KINDS[*]}) gateway-api@$GATEWAY_API_VERSION (${GATEWAY_API_KINDS[*]})" \
  install_crds
# The source's hash is part of the pin: editing main.go must rebuild the binary.
source_hash="$(cat "$HERE/meshconfig-validate/"{main.go,go.mod,go.sum} | sha256sum | cut -c1-16)"
run_pinned "$BIN/.meshconfig-validate.version" "meshconfig-validate istio.io/api@$istio_version $source_hash" \
  build_meshconfig_validate

echo "$SCHEMAS"
