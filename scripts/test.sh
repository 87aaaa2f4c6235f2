#!/usr/bin/env bash
# Set up and run every test: unit tests beside the code, the sample routes'
# native tests, and the end-to-end tests (which build the host and all
# components once, then talk HTTP to the real binary).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo test --release --workspace --locked
