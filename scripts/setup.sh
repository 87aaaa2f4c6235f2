#!/usr/bin/env bash
# What a fresh machine needs, in parts; with no arguments, all of them (what
# the README's two commands run first). Idempotent: a no-op once everything
# is there.
#
#   scripts/setup.sh [PART...]
#
#   rust       the Rust toolchain rust-toolchain.toml pins (with wasm32-wasip2,
#              rustfmt and clippy): what building the host and the samples needs
#   sdk-rust   the SDK's declared minimum Rust, with wasm32-wasip2
#   services   redis-server, PostgreSQL's server, nginx and curl
#   py-tools   the pinned validators some end-to-end tests run
#   js         guest-js's pinned JavaScript toolchain (Node.js must be there)
#   weval      weval, for JavaScript routes built ahead of time (`aot = true`),
#              into target/tools/bin
set -euo pipefail
cd "$(dirname "$0")/.."

rust() {
    rustup toolchain install --no-self-update
    if ! rustup target list --installed | grep -qx wasm32-wasip2; then
        rustup target add wasm32-wasip2
    fi
}

# The end-to-end tests build the SDK and a route made by `wasmroutes new`
# with the minimum Rust the SDK declares (guest-sdk/Cargo.toml), as a route
# author whose default is an older stable would; the crate's
# rust-toolchain.toml names the same release, with these components.
sdk_rust() {
    local version
    version=$(sed -n 's/^rust-version = "\(.*\)"$/\1/p' guest-sdk/Cargo.toml)
    if ! rustup target list --installed --toolchain "$version" 2>/dev/null | grep -qx wasm32-wasip2 \
        || ! rustup component list --installed --toolchain "$version" 2>/dev/null | grep -q '^clippy'; then
        rustup toolchain install "$version" --profile minimal --target wasm32-wasip2 \
            --component rustfmt --component clippy --no-self-update
    fi
}

# Services the tests start for themselves, on free loopback ports in temp
# dirs: redis-server (the Redis key-value backend; tests/support/redis_server.rs),
# PostgreSQL (the shared SQL backend; tests/support/postgres_server.rs runs
# initdb and postgres from /usr/lib/postgresql/*/bin) and, for the local
# cluster of deploy/local (tests/e2e/many_hosts.rs), nginx and curl; openssl
# makes the certificates of the PostgreSQL TLS test.
# Debian's packages start and enable system services on 6379, 5432 and 80;
# nothing needs those, so they are stopped and disabled again.
services() {
    local missing=()
    command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
    command -v nginx >/dev/null 2>&1 || missing+=(nginx-light)
    compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || missing+=(postgresql)
    command -v curl >/dev/null 2>&1 || missing+=(curl)
    command -v openssl >/dev/null 2>&1 || missing+=(openssl)
    if [ ${#missing[@]} -eq 0 ]; then
        return
    fi
    local as_root=() # empty when root (or without sudo: apt-get then says why)
    if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
        as_root=(sudo)
    fi
    ${as_root[@]+"${as_root[@]}"} apt-get update
    ${as_root[@]+"${as_root[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
    # Whichever init this machine has (a container may have neither running).
    for service in redis-server postgresql nginx; do
        if command -v systemctl >/dev/null 2>&1; then
            ${as_root[@]+"${as_root[@]}"} systemctl disable --now "$service" >/dev/null 2>&1 || true
        fi
        if command -v service >/dev/null 2>&1; then
            ${as_root[@]+"${as_root[@]}"} service "$service" stop >/dev/null 2>&1 || true
        fi
    done
}

py_tools() {
    # kubernetes-validate, for the e2e test deploy_manifests: it checks
    # deploy/kubernetes/ against the Kubernetes JSON schemas it bundles, offline.
    # Pinned, so a new release's schemas cannot fail CI on a Monday.
    local kubernetes_validate=1.37.0
    if [ "$(kubernetes-validate --version 2>/dev/null)" != "$kubernetes_validate" ]; then
        python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
            "kubernetes-validate==$kubernetes_validate"
    fi
    # openapi-spec-validator, for the e2e test openapi: it checks the documents
    # `wasmroutes openapi` writes against the OpenAPI 3.1 schema. Pinned too.
    local openapi_spec_validator=0.9.0
    if [ "$(openapi-spec-validator --version 2>/dev/null)" != "openapi-spec-validator $openapi_spec_validator" ]; then
        python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
            "openapi-spec-validator==$openapi_spec_validator"
    fi
}

# guest-js: the pinned JavaScript toolchain (componentize-js and what it
# needs) that builds route.js files into components (sample-routes/js, the
# e2e tests). Installed from package-lock.json, offline afterwards; again
# only when the lock file changes. Node.js itself comes with the machine.
js() {
    if ! command -v node >/dev/null 2>&1; then
        echo "setup: node (Node.js 20) is needed to build JavaScript routes" >&2
        exit 1
    fi
    if ! cmp -s guest-js/package-lock.json guest-js/node_modules/.package-lock.json.installed 2>/dev/null; then
        npm ci --prefix guest-js --no-audit --no-fund --loglevel=error
        cp guest-js/package-lock.json guest-js/node_modules/.package-lock.json.installed
    fi
}

# weval, which an `aot = true` route is built with (the e2e test js_build,
# bench/js-aot.sh): the release componentize-js's AOT engine is made for
# (WEVAL_VERSION in host/src/js_toolchain.rs), built from crates.io: the
# binary componentize-js would download is out of reach here. Its own
# target dir, beside the one bench/run.sh builds `wasmtime serve` in.
weval() {
    local version=0.5.0
    if ! target/tools/bin/weval --version 2>/dev/null | grep -qx "weval $version"; then
        CARGO_TARGET_DIR=target/tools-build cargo install weval --version "$version" --locked --root target/tools
    fi
}

parts=("$@")
if [ ${#parts[@]} -eq 0 ]; then
    parts=(rust sdk-rust services py-tools js weval)
fi
for part in "${parts[@]}"; do
    case "$part" in
        rust | sdk-rust | services | py-tools | js | weval) "${part//-/_}" ;;
        *)
            echo "setup: unknown part '$part' (rust, sdk-rust, services, py-tools, js, weval)" >&2
            exit 2
            ;;
    esac
done
