#!/usr/bin/env bash
# Sets up, builds and runs Vigil on its embedded default config (OTLP/HTTP on 127.0.0.1:4318,
# health on :13133, self-metrics on :8888/metrics), with the demo shop (vigil-shop-demo) writing
# its traffic into the demo log folder that the default config tails, so the default KPI pack has
# orders, webhooks and jobs to count. VIGIL_DEMO=0 runs the agent alone. Extra arguments go to vigil.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
# The same flags as scripts/test.sh, so switching between the two commands does not rebuild.
export VIGIL_WERROR=${VIGIL_WERROR:-ON}
cmake --preset release >/dev/null
cmake --build --preset release --target vigil vigil-shop-demo
if [ "${VIGIL_DEMO:-1}" = "0" ]; then
  exec ./build/release/agent/app/vigil "$@"
fi
./build/release/examples/vigil-shop-demo --rate "${VIGIL_DEMO_RATE:-2}" &
demo=$!
trap 'kill "$demo" 2>/dev/null || true' EXIT
./build/release/agent/app/vigil "$@"
