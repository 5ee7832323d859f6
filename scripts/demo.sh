#!/usr/bin/env bash
# `make demo`: the streams docs' echo server and client against each other, then the
# socketpair example. The server takes a free port (--port 0) and says which on its first line.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --examples
bin="${CARGO_TARGET_DIR:-target}/debug/examples"
out=$(mktemp)
"$bin/tcp_echo_server" --port 0 >"$out" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -f "$out"' EXIT
for _ in $(seq 1 100); do
  grep -q "Serving on" "$out" && break
  kill -0 $server 2>/dev/null || { cat "$out"; echo "server exited" >&2; exit 1; }
  sleep 0.05
done
port=$(sed -n "s/^Serving on ('[^']*', \([0-9]*\)).*/\1/p" "$out" | head -n 1)
[ -n "$port" ] || { cat "$out"; echo "no port in the server's first line" >&2; exit 1; }
echo "--- server: $(head -n 1 "$out")"
echo "--- client (examples/tcp_echo_client.rs):"
"$bin/tcp_echo_client" 'Hello World!' --port "$port"
echo "--- wait_for_data (examples/wait_for_data.rs):"
"$bin/wait_for_data"
kill $server
wait $server 2>/dev/null || true
echo "--- server log:"
cat "$out"
