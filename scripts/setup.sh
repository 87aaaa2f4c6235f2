#!/usr/bin/env bash
# What a fresh machine needs before building: the wasm32-wasip2 target for
# guest components. Idempotent.
set -euo pipefail
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    rustup target add wasm32-wasip2
fi
