#!/usr/bin/env bash
# Benchmark of `siemproof audit` on generated tenants (small and large): wall time (best of N),
# CPU time, peak memory and evidence size. Run on a quiet machine:  bash benches/audit.sh
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-5}
cargo build --release --quiet --bin siemproof --example gen-tenant
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bench() {
  local name=$1; shift
  target/release/examples/gen-tenant "$@" --out "$work/$name" >/dev/null
  local size best="" cpu="" mem=""
  size=$(du -sh "$work/$name" | cut -f1)
  for _ in $(seq "$runs"); do
    /usr/bin/time -f "%e %U %S %M" -o "$work/t" target/release/siemproof audit "$work/$name" \
      --as-of 2026-11-20T12:00:00Z --fail-on never --out "$work/$name-report" --format json >/dev/null
    read -r wall user sys rss < "$work/t"
    if [ -z "$best" ] || awk "BEGIN{exit !($wall < $best)}"; then
      best=$wall; cpu=$(awk "BEGIN{print $user + $sys}"); mem=$rss
    fi
  done
  printf '%-6s %-40s evidence %6s  wall %6ss  cpu %6ss  peak %6d MiB\n' "$name" "$*" "$size" "$best" "$cpu" "$((mem / 1024))"
}
bench small --namespaces 10
bench large --namespaces 1000
