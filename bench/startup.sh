#!/usr/bin/env bash
# Start-up time to first answer with 1, 100 and 1000 routes, cold and from
# the compile cache, and RSS per loaded route. See bench/startup.py.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release -p wasmroutes
cargo build --release --target wasm32-wasip2 -p hello
exec python3 bench/startup.py "$@"
