#!/usr/bin/env bash
# What a fresh machine needs before building: the Rust toolchain that
# rust-toolchain.toml pins (with its wasm32-wasip2 target, rustfmt and
# clippy), and the target for guest components. Idempotent: a no-op once
# everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."
rustup toolchain install --no-self-update
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    rustup target add wasm32-wasip2
fi
