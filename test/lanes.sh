#!/usr/bin/env bash
# `npm test`: the suite in lanes that fail fast, cheapest first, each timed.
#
#   unit         typecheck, lint and format (biome.jsonc), the arrows (.dependency-cruiser.mjs), test/unit: no peers, under a minute
#   integration  obtains the pinned peers (test/peers/install.sh, cached), then test/integration
#   e2e          test/e2e: real Envoy in front of jwtgate, and the demo
#
# A lane starts only when the one before it passed, so a type error or a broken arrow is known
# in seconds instead of after the peers are built.
#
# Usage:  test/lanes.sh                  # every lane, in order
#         test/lanes.sh unit e2e         # just these (the integration lane obtains the peers)
set -euo pipefail
cd "$(dirname "$0")/.."

# The same runner flags in every lane: two files at a time (CI has two cores), and a generous
# per-test bound for the suites that start real apiservers.
NODE_TEST=(node --test --test-concurrency=2 --test-timeout=120000)

# The runner's output is kept to add up the lanes' counts into one closing line.
RESULTS="$(mktemp)"
run_tests() {
  "${NODE_TEST[@]}" "$1" | tee -a "$RESULTS"
}

lane_unit() {
  step "typecheck" tsc -p tsconfig.json
  step "lint" npm run -s lint
  step "arrows" npm run -s check:arrows
  step "unit tests" run_tests 'test/unit/**/*.test.ts'
}

lane_integration() {
  # On a fresh clone this builds the peers (about five minutes on two cores); later runs reuse
  # ~/.cache/jwtgate-peers. The e2e lane needs them too: its Envoy is among them.
  step "peers" bash test/peers/install.sh >/dev/null
  step "integration tests" run_tests 'test/integration/**/*.test.ts'
}

lane_e2e() {
  step "envoy peer" bash test/peers/envoy/install.sh >/dev/null
  step "e2e tests" run_tests 'test/e2e/**/*.test.ts'
}

timings=()
step() {
  local name="$1" started=$SECONDS
  shift
  echo "== $name: $*" >&2
  "$@"
  timings+=("    $name: $((SECONDS - started))s")
  echo "== $name: done in $((SECONDS - started))s" >&2
}

lanes=("$@")
[[ ${#lanes[@]} -gt 0 ]] || lanes=(unit integration e2e)
for lane in "${lanes[@]}"; do
  declare -F "lane_$lane" >/dev/null || { echo "unknown lane '$lane' (unit, integration, e2e)" >&2; exit 2; }
done

total=$SECONDS
report() {
  local status=$?
  echo "== lane timings" >&2
  printf '%s\n' "${timings[@]}" >&2
  # One closing line for every lane that ran (node prints one summary per run).
  local passed failed
  passed=$(awk '/^ℹ pass [0-9]+$/ { n += $3 } END { print n + 0 }' "$RESULTS")
  failed=$(awk '/^ℹ fail [0-9]+$/ { n += $3 } END { print n + 0 }' "$RESULTS")
  rm -f "$RESULTS"
  echo "tests: $passed passed, $failed failed"
  if [[ $status -eq 0 ]]; then echo "== lanes ${lanes[*]} passed in $((SECONDS - total))s" >&2
  else echo "== lane $current failed after $((SECONDS - total))s" >&2; fi
}
trap report EXIT
for lane in "${lanes[@]}"; do
  current=$lane
  started=$SECONDS
  echo "== lane $lane" >&2
  "lane_$lane"
  timings+=("  lane $lane: $((SECONDS - started))s")
done
