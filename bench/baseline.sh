#!/usr/bin/env bash
# Builds another revision of wasmroutes beside this checkout, for an A/B
# comparison measured in one run (bench/run.sh and bench/sandbox.sh take it
# as BASELINE=REV).
#
#   bench/baseline.sh REV     prints the directory of REV's checkout
#
# REV is checked out in a git worktree at target/ab/REV with a target dir of
# its own, and built with *this* checkout's pinned toolchain, so the A/B
# differs in the code and its dependencies only, not the compiler. Builds the
# host binary and the criterion sandbox bench; later calls rebuild nothing.
# The components the baseline serves are this checkout's: both sides run the
# same guests.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 1 ] || { echo "usage: bench/baseline.sh REV" >&2; exit 2; }
rev="$(git rev-parse --short "$1^{commit}")"
dir="target/ab/$rev"
if [ ! -e "$dir/.git" ]; then
    git worktree prune
    git worktree add --detach "$dir" "$rev" >&2
    # Same dependencies as this checkout: start from its compiled ones, so
    # that only the workspace's own crates build (minutes, not a wasmtime).
    if git diff --quiet "$rev" HEAD -- Cargo.lock && [ -d target/release/deps ]; then
        mkdir -p "$dir/target"
        cp -a target/release "$dir/target/"
    fi
fi
toolchain="$(rustup show active-toolchain | cut -d' ' -f1)"
(
    cd "$dir"
    export RUSTUP_TOOLCHAIN="$toolchain"
    cargo build --release --locked -p wasmroutes >&2
    cargo bench --locked --no-run -p wasmroutes --bench sandbox >&2
)
echo "$dir"
