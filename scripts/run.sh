#!/usr/bin/env bash
# Sets up, builds and runs Vigil on its embedded default config (OTLP/HTTP on 127.0.0.1:4318,
# health on :13133, self-metrics on :8888/metrics). Extra arguments go to vigil.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
# The same flags as scripts/test.sh, so switching between the two commands does not rebuild.
export VIGIL_WERROR=${VIGIL_WERROR:-ON}
cmake --preset release >/dev/null
cmake --build --preset release --target vigil
exec ./build/release/agent/app/vigil "$@"
