#!/usr/bin/env bash
# Builds what one host serves and lays it out as the container image's /app:
#
#   OUT/bin/wasmroutes      the host
#   OUT/routes.toml         deploy/kubernetes/routes.toml
#   OUT/components/*.wasm   every component routes.toml names
#   OUT/migrations/notes/   the notes table's PostgreSQL migrations
#                           (sample-routes/migrations/notes-postgres)
#   OUT/cache/              the compile cache, pre-warmed (`wasmroutes precompile`)
#
# The Dockerfile runs it to build the image, deploy/local/cluster.sh runs it
# to start a local cluster, and the end-to-end tests run it: one tested way
# to build a deployment.
#
# Usage: deploy/stage.sh OUT_DIR
# A component `components/posts_id.wasm` is built from the workspace package
# `posts-id` (cargo writes package names with `_`).
set -euo pipefail
if [ $# -ne 1 ]; then
    echo "usage: $0 OUT_DIR" >&2
    exit 2
fi
root="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$1"
out="$(cd "$1" && pwd)"
manifest="$root/deploy/kubernetes/routes.toml"
target="${CARGO_TARGET_DIR:-$root/target}"

components=$(sed -n 's|^component = "components/\(.*\)\.wasm"$|\1|p' "$manifest" | sort -u)
if [ -z "$components" ]; then
    echo "$manifest names no components/*.wasm" >&2
    exit 1
fi
packages=()
for c in $components; do
    packages+=(-p "${c//_/-}")
done

cd "$root"
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    rustup target add wasm32-wasip2
fi
cargo build --release --locked -p wasmroutes --bin wasmroutes
cargo build --release --locked --target wasm32-wasip2 "${packages[@]}"

mkdir -p "$out/bin" "$out/components"
install -m 0755 "$target/release/wasmroutes" "$out/bin/wasmroutes"
install -m 0644 "$manifest" "$out/routes.toml"
for c in $components; do
    install -m 0644 "$target/wasm32-wasip2/release/$c.wasm" "$out/components/$c.wasm"
done
# Replaced whole, so a migration deleted from the source is gone here too.
rm -rf "$out/migrations/notes"
mkdir -p "$out/migrations/notes"
install -m 0644 "$root"/sample-routes/migrations/notes-postgres/*.sql "$out/migrations/notes/"
# The manifest interpolates ${REDIS_URL} and ${DATABASE_URL}; compiling needs
# neither (stores and databases open when served), so any well-formed URL
# will do when none is set.
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}" \
    DATABASE_URL="${DATABASE_URL:-postgres://127.0.0.1:5432/wasmroutes}" \
    "$out/bin/wasmroutes" precompile "$out/routes.toml" --cache-dir "$out/cache"
# The host creates its cache owner-only (host/src/runtime/compile_cache.rs),
# and whoever staged owns it: a host running as another user (a pod's
# non-root user, when the image was built as root) could not read it and
# would compile at every start. Readable by all, writable by the owner only,
# so nobody else can swap an artifact either.
chmod -R u=rwX,go=rX "$out"
