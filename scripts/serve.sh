#!/usr/bin/env bash
# Set up, build the host and the sample routes, and serve them on
# 127.0.0.1:3000 (or the address given as $1).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release -p wasmroutes
target/release/wasmroutes build sample-routes/routes.toml
exec target/release/wasmroutes serve sample-routes/routes.toml --addr "${1:-127.0.0.1:3000}"
