#!/usr/bin/env bash
# `make soak`: builds the echo server and the load generator (release), then runs
# examples/soak.rs against the server for SOAK_SECONDS (default 60). Extra arguments go to the
# soak binary, e.g. `bash scripts/soak.sh --peak 500 --tls off`. Exits non-zero when the soak
# fails (corrupted byte, client error, leaked fd, RSS growth); see the header of soak.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --example echo_server --example soak
target_dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
echo "soak: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(nproc) CPUs, $(uname -sr)"
exec "$target_dir/release/examples/soak" --seconds "${SOAK_SECONDS:-60}" "$@"
