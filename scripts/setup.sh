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

# redis-server, for the Redis key-value backend's tests (they start their own
# servers on free ports: see tests/support/redis_server.rs). Debian's package
# starts and enables a system redis on 6379; nothing needs it, so it is
# stopped and disabled again.
if ! command -v redis-server >/dev/null 2>&1; then
    as_root=() # empty when root (or without sudo: apt-get then says why)
    if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
        as_root=(sudo)
    fi
    ${as_root[@]+"${as_root[@]}"} apt-get update
    ${as_root[@]+"${as_root[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server
    # Whichever init this machine has (a container may have neither running).
    if command -v systemctl >/dev/null 2>&1; then
        ${as_root[@]+"${as_root[@]}"} systemctl disable --now redis-server >/dev/null 2>&1 || true
    fi
    if command -v service >/dev/null 2>&1; then
        ${as_root[@]+"${as_root[@]}"} service redis-server stop >/dev/null 2>&1 || true
    fi
fi
