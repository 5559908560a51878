#!/usr/bin/env bash
# Benchmark of `siemproof audit` on generated tenants (small, large, huge): wall time (best of N),
# CPU time, peak memory, evidence size, and the two ratios issue 15 sets targets for: peak RSS over
# the bundle's bytes (target <= 1) and wall time over a read-and-hash floor (every file read and
# SHA-256 hashed once by siemproof's own hasher on the audit's worker threads, examples/hash-floor.rs,
# as the audit must at least do; target <= 5).
# Run on a quiet machine:  bash benches/audit.sh   (HUGE=0 skips the 6,000-namespace row)
# BEFORE=path/to/older/siemproof also times that binary on the same bundles, in the same run, so
# a change's before and after rows are measured side by side. A wall/floor of 0 means the floor was
# under 10 ms (the small tenant), too short to divide by.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-5}
cargo build --release --quiet --bin siemproof --example gen-tenant --example hash-floor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bench() {
  local name=$1; shift
  target/release/examples/gen-tenant "$@" --out "$work/$name" >/dev/null
  local size bytes best="" cpu="" mem=""
  # The bundle's own bytes (apparent size, not disk blocks): the figure the peak is compared with.
  bytes=$(du -sb "$work/$name" | cut -f1)
  size="$(awk "BEGIN{printf \"%.0fM\", $bytes / 1048576}")"
  # The floor: read and hash every file once, best of $runs passes (warm page cache, like the audit).
  local floor
  floor=$(target/release/examples/hash-floor "$work/$name" "$runs")
  local bin label
  for bin in ${BEFORE:+"$BEFORE"} target/release/siemproof; do
    label=$name; [ "$bin" = target/release/siemproof ] || label="$name(before)"
    best=""; cpu=""; mem=""
    for _ in $(seq "$runs"); do
      rm -rf "$work/$name-report"
      /usr/bin/time -f "%e %U %S %M" -o "$work/t" "$bin" audit "$work/$name" \
        --as-of 2026-11-20T12:00:00Z --fail-on never --fail-on-unassessed none --out "$work/$name-report" --format json >/dev/null 2>&1
      read -r wall user sys rss < "$work/t"
      if [ -z "$best" ] || awk "BEGIN{exit !($wall < $best)}"; then
        best=$wall; cpu=$(awk "BEGIN{print $user + $sys}"); mem=$rss
      fi
    done
    printf '%-14s %-18s evidence %6s  wall %6ss  cpu %6ss  peak %6d MiB  peak/bundle %5.2f  floor %5.2fs  wall/floor %5.1f\n' \
      "$label" "$*" "$size" "$best" "$cpu" "$((mem / 1024))" \
      "$(awk "BEGIN{print $mem * 1024 / $bytes}")" "$floor" "$(awk "BEGIN{print ($floor >= 0.01) ? $best / $floor : 0}")"
  done
}
bench small --namespaces 10
bench large --namespaces 1000
if [ "${HUGE:-1}" != 0 ]; then bench huge --namespaces 6000; fi
