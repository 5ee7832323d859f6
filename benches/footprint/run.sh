#!/usr/bin/env bash
# `make footprint`: the footprint of two small programs, written three ways, measured in one run.
#
#   programs  tcp_echo_client  the streams docs' echo client (connect, send, read 100 B, close)
#             http_headers     the docs' HEAD-over-HTTP/1.0 client, with https (rustls + ring)
#   versions  ours   the crate's own examples/*.rs, built unchanged (benches/footprint/ours)
#             ours-min  an extra row: the same two programs on this crate written to the exact
#                    shape of tokio/src/bin/*.rs (plain std::env::args, no logger, no usage
#                    text), to compare like with like      (benches/footprint/ours-min)
#             tokio  tokio + tokio-rustls                              (benches/footprint/tokio)
#             std    blocking std + rustls                             (benches/footprint/std)
#
# Each version is its own cargo package (own [workspace], target dir target/footprint/<version>),
# so nothing here touches the main crate's dependencies. tcp_echo_client is built with
# --no-default-features (no TLS) in all versions, http_headers with the default `tls` feature.
#
# Measured per program x version:
#   crates  packages in the normal dependency graph for this host: the unique `name version`
#           lines of `cargo tree -e normal --prefix none --format {p}` (same features as the
#           build), less the program's own package. Build-dependencies (cc, ...) and
#           dev-dependencies are not counted; the asyncio crate itself counts for ours.
#   build   clean release build, wall time: `cargo clean` of the target dir, then
#           `cargo build --release --bin X`; crates are fetched before, so no download is timed.
#           $FOOTPRINT_ROUNDS rounds (default 2), the versions alternating back to back within
#           each round; the table shows the minimum. Also the build's CPU time (user + sys of
#           cargo and all its children, bash's `time`), which a shared, loaded machine disturbs
#           far less than wall time. Every run is in target/footprint/runs.tsv.
#   size    the release binary after `strip` (of a copy), `stat -c %s`.
# Ratios are to tokio. The table is printed and written to target/footprint/report.md with the
# machine it ran on. ours/Cargo.lock is the main crate's Cargo.lock, copied at each run, so ours
# builds the versions the crate pins (ours-min/Cargo.lock too); tokio/ and std/ keep their own
# lockfiles. The targets (ours < tokio) are judged on the `ours` row.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
here=benches/footprint
out=target/footprint
rounds=${FOOTPRINT_ROUNDS:-2}
versions=(ours ours-min tokio std)
programs=(tcp_echo_client http_headers)
mkdir -p "$out"
cp Cargo.lock "$here/ours/Cargo.lock"
cp Cargo.lock "$here/ours-min/Cargo.lock"

features() { # program -> cargo feature flags
  if [ "$1" = tcp_echo_client ]; then echo --no-default-features; fi
}
cargo_in() { # version, cargo args...
  local v=$1
  shift
  (cd "$here/$v" && cargo "$@" --target-dir "$root/$out/$v")
}

declare -A crates best cpu_best size
for v in "${versions[@]}"; do
  (cd "$here/$v" && cargo fetch --quiet)
  for p in "${programs[@]}"; do
    # shellcheck disable=SC2046
    crates[$p.$v]=$( (cd "$here/$v" && cargo tree --quiet -e normal --prefix none --format '{p}' $(features "$p")) |
      awk '$1 !~ /^footprint-/ {print $1, $2}' | sort -u | wc -l)
  done
done

printf 'round\tprogram\tversion\twall_s\tcpu_s\n' >"$out/runs.tsv"
lower() { [ -z "$2" ] || awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
TIMEFORMAT='%R %U %S' # bash's `time`: wall, then user and system CPU of cargo and its children
for r in $(seq 1 "$rounds"); do
  for p in "${programs[@]}"; do
    for v in "${versions[@]}"; do
      cargo_in "$v" clean --quiet
      # shellcheck disable=SC2046
      { time cargo_in "$v" build --release --quiet --bin "$p" $(features "$p") 2>"$out/build.log"; } 2>"$out/time.txt" ||
        { cat "$out/build.log" >&2; exit 1; }
      read -r wall user sys <"$out/time.txt"
      cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.1f", u + s }')
      wall=$(awk -v w="$wall" 'BEGIN { printf "%.1f", w }')
      printf '%s\t%s\t%s\t%s\t%s\n' "$r" "$p" "$v" "$wall" "$cpu" >>"$out/runs.tsv"
      echo "round $r/$rounds: $p ($v) built in $wall s wall, $cpu s CPU" >&2
      if lower "$wall" "${best[$p.$v]:-}"; then best[$p.$v]=$wall; fi
      if lower "$cpu" "${cpu_best[$p.$v]:-}"; then cpu_best[$p.$v]=$cpu; fi
      strip -o "$out/$v-$p.stripped" "$out/$v/release/$p"
      size[$p.$v]=$(stat -c %s "$out/$v-$p.stripped")
    done
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
mark() { awk -v a="$1" -v b="$2" 'BEGIN { if (a < b) print "met"; else print "MISSED" }'; }
{
  echo "| program | version | crates | clean release build (wall) | build CPU (user+sys) | stripped binary |"
  echo "|---|---|---:|---:|---:|---:|"
  for p in "${programs[@]}"; do
    for v in "${versions[@]}"; do
      c=${crates[$p.$v]} b=${best[$p.$v]} u=${cpu_best[$p.$v]} s=${size[$p.$v]}
      ct=${crates[$p.tokio]} bt=${best[$p.tokio]} ut=${cpu_best[$p.tokio]} st=${size[$p.tokio]}
      kib=$(awk -v s="$s" 'BEGIN { printf "%.0f", s / 1024 }')
      if [ "$v" = tokio ]; then
        echo "| $p | $v | $c | $b s | $u s | $kib KiB |"
      else
        echo "| $p | $v | $c ($(ratio "$c" "$ct")×) | $b s ($(ratio "$b" "$bt")×) | $u s ($(ratio "$u" "$ut")×) | $kib KiB ($(ratio "$s" "$st")×) |"
      fi
    done
  done
  echo
  echo "Ratios are to tokio. Target (ours < tokio on all three):"
  for p in "${programs[@]}"; do
    echo "- $p: crates $(mark "${crates[$p.ours]}" "${crates[$p.tokio]}"), build $(mark "${best[$p.ours]}" "${best[$p.tokio]}") (CPU $(mark "${cpu_best[$p.ours]}" "${cpu_best[$p.tokio]}")), binary $(mark "${size[$p.ours]}" "${size[$p.tokio]}")"
  done
  echo
  echo "Crates: unique packages of \`cargo tree -e normal\` (host target, build features), less the"
  echo "program's own; build: \`cargo clean\` then \`cargo build --release --bin X\`, wall and CPU time, each"
  echo "the min of $rounds rounds alternating the versions; binary: \`strip\`ped. tcp_echo_client without the"
  echo "\`tls\` feature in all versions. ours builds the crate's examples/*.rs unchanged (CLI parser with"
  echo "usage text, stderr logger); ours-min is the same programs on this crate in the shape of the"
  echo "tokio versions (plain args, no logger), an extra row for a like-with-like comparison."
  echo "Machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(rustc --version),"
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'); load average $load_before before, $load_after after."
} | tee "$out/report.md"
