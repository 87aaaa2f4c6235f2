#!/usr/bin/env bash
# Builds floor-hello into the root workspace's target dir
# (target/wasm32-wasip2/release/floor_hello.wasm). It is its own workspace:
# built with the root's crates, feature unification would give serde_json std.
set -euo pipefail
cd "$(dirname "$0")/../.."
CARGO_TARGET_DIR="$PWD/target" cargo build --locked --release --target wasm32-wasip2 --manifest-path bench/floor-hello/Cargo.toml
