#!/usr/bin/env bash
# Regenerates the pinned go.mod/go.sum of the kube-apiserver and etcd peer modules.
#
# Run this only to move a pin; install.sh builds from the committed go.mod/go.sum.
# k8s.io/kubernetes requires its ~31 staging modules (k8s.io/api, apimachinery, client-go, ...)
# at v0.0.0 with `replace` directives to local paths, and Go ignores a dependency's replaces, so
# the peer module must repeat one replace per staging module, pointing at the matching v0.X.Y
# tag. The list is read from that version's own go.mod, never typed by hand.
#
# Usage:  test/peers/pin.sh v1.35.8 v3.6.16     # kubernetes version, etcd version
set -euo pipefail

K8S_VERSION="${1:?usage: pin.sh KUBERNETES_VERSION ETCD_VERSION}"
ETCD_VERSION="${2:?usage: pin.sh KUBERNETES_VERSION ETCD_VERSION}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PEERS_DIR="${JWTGATE_PEERS_DIR:-$HOME/.cache/jwtgate-peers}"
export GOTOOLCHAIN=local GOFLAGS=-mod=mod GOMODCACHE="$PEERS_DIR/gomodcache" GOCACHE="$PEERS_DIR/gocache"

# v1.35.8 -> v0.35.8: staging modules are tagged with major version 0.
STAGING_VERSION="v0.${K8S_VERSION#v1.}"
# Prints the path of MODULE@VERSION's own go.mod (downloading it into the module cache).
gomod_of() {
  go mod download -json "$1" | sed -n 's/^\s*"GoMod": "\(.*\)",\?$/\1/p'
}
k8s_gomod=$(gomod_of "k8s.io/kubernetes@$K8S_VERSION")
go_directive=$(sed -n 's/^go //p' "$k8s_gomod")
etcd_go_directive=$(sed -n 's/^go //p' "$(gomod_of "go.etcd.io/etcd/server/v3@$ETCD_VERSION")")

{
  echo "// Pinned by test/peers/pin.sh — regenerate, do not edit."
  echo "module jwtgate.dev/test/peers/kube-apiserver"
  echo
  echo "go $go_directive"
  echo
  echo "require k8s.io/kubernetes $K8S_VERSION"
  echo
  echo "replace ("
  awk -v v="$STAGING_VERSION" '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" { print "\t" $1 " => " $1 " " v }' "$k8s_gomod" | sort -u
  echo ")"
} >"$HERE/kube-apiserver/go.mod"
(cd "$HERE/kube-apiserver" && rm -f go.sum && go mod tidy)

printf '%s\n' "// Pinned by test/peers/pin.sh — regenerate, do not edit." \
  "module jwtgate.dev/test/peers/etcd" "" "go $etcd_go_directive" "" \
  "require go.etcd.io/etcd/server/v3 $ETCD_VERSION" >"$HERE/etcd/go.mod"
(cd "$HERE/etcd" && rm -f go.sum && go mod tidy)

echo "pinned kubernetes $K8S_VERSION (staging $STAGING_VERSION, go $go_directive), etcd $ETCD_VERSION (go $etcd_go_directive)"
