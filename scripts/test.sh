#!/usr/bin/env bash
# Set up and run every test: the SDK with the minimum Rust it declares, then
# unit tests beside the code, the sample routes' native tests, and the
# end-to-end tests (which build the host and all components once, then talk
# HTTP to the real binary).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# Route crates build with an older stable than the host: the SDK's own tests
# run with the release its rust-version names (the e2e test `scaffold` builds
# a route with it for wasm32-wasip2). Its own target dir, one per compiler.
sdk_rust=$(sed -n 's/^rust-version = "\(.*\)"$/\1/p' guest-sdk/Cargo.toml)
cargo "+$sdk_rust" test --locked --all-features -p wasmroutes-sdk -p wasmroutes-sdk-macros \
    --target-dir target/sdk-minimum-rust
cargo test --release --workspace --locked
