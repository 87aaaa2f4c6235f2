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

# Services the tests start for themselves, on free loopback ports in temp
# dirs: redis-server (the Redis key-value backend; tests/support/redis_server.rs)
# and, for the local cluster of deploy/local (tests/e2e/many_hosts.rs), nginx
# and curl. Debian's packages start and enable system services on 6379 and
# 80; nothing needs those, so they are stopped and disabled again.
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v nginx >/dev/null 2>&1 || missing+=(nginx-light)
command -v curl >/dev/null 2>&1 || missing+=(curl)
if [ ${#missing[@]} -gt 0 ]; then
    as_root=() # empty when root (or without sudo: apt-get then says why)
    if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
        as_root=(sudo)
    fi
    ${as_root[@]+"${as_root[@]}"} apt-get update
    ${as_root[@]+"${as_root[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
    # Whichever init this machine has (a container may have neither running).
    for service in redis-server nginx; do
        if command -v systemctl >/dev/null 2>&1; then
            ${as_root[@]+"${as_root[@]}"} systemctl disable --now "$service" >/dev/null 2>&1 || true
        fi
        if command -v service >/dev/null 2>&1; then
            ${as_root[@]+"${as_root[@]}"} service "$service" stop >/dev/null 2>&1 || true
        fi
    done
fi

# kubernetes-validate, for the e2e test deploy_manifests: it checks
# deploy/kubernetes/ against the Kubernetes JSON schemas it bundles, offline.
# Pinned, so a new release's schemas cannot fail CI on a Monday.
KUBERNETES_VALIDATE_VERSION=1.37.0
if [ "$(kubernetes-validate --version 2>/dev/null)" != "$KUBERNETES_VALIDATE_VERSION" ]; then
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
fi

# openapi-spec-validator, for the e2e test openapi: it checks the documents
# `wasmroutes openapi` writes against the OpenAPI 3.1 schema. Pinned too.
OPENAPI_SPEC_VALIDATOR_VERSION=0.9.0
if [ "$(openapi-spec-validator --version 2>/dev/null)" != "openapi-spec-validator $OPENAPI_SPEC_VALIDATOR_VERSION" ]; then
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore "openapi-spec-validator==$OPENAPI_SPEC_VALIDATOR_VERSION"
fi

# guest-js: the pinned JavaScript toolchain (componentize-js and what it
# needs) that builds route.js files into components (sample-routes/js, the
# e2e tests). Installed from package-lock.json, offline afterwards; again
# only when the lock file changes. Node.js itself comes with the machine.
if ! command -v node >/dev/null 2>&1; then
    echo "setup: node (Node.js 20) is needed to build JavaScript routes" >&2
    exit 1
fi
if ! cmp -s guest-js/package-lock.json guest-js/node_modules/.package-lock.json.installed 2>/dev/null; then
    npm ci --prefix guest-js --no-audit --no-fund --loglevel=error
    cp guest-js/package-lock.json guest-js/node_modules/.package-lock.json.installed
fi
