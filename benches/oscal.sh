#!/usr/bin/env bash
# Benchmark of re-rendering OSCAL (`siemproof report RUN --format oscal`) for a large run: a
# generated tenant of NAMESPACES (default 3000) namespaces is audited once, then its results are
# rendered to OSCAL RUNS times; prints the best wall time, the peak memory and the sizes.
#   bash benches/oscal.sh            (NAMESPACES=3000 RUNS=3)
set -euo pipefail
cd "$(dirname "$0")/.."
namespaces=${NAMESPACES:-3000}
runs=${RUNS:-3}
cargo build --release --quiet --bin siemproof --example gen-tenant
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
target/release/examples/gen-tenant --namespaces "$namespaces" --out "$work/tenant" >/dev/null
target/release/siemproof audit "$work/tenant" --as-of 2026-11-20T12:00:00Z --fail-on never \
  --fail-on-unassessed none --out "$work/run" --format json >/dev/null 2>&1
best="" mem=""
for _ in $(seq "$runs"); do
  rm -rf "$work/oscal"
  /usr/bin/time -f "%e %M" -o "$work/t" target/release/siemproof report "$work/run/results.json" \
    --out "$work/oscal" --format oscal >/dev/null
  read -r wall rss < "$work/t"
  if [ -z "$best" ] || awk "BEGIN{exit !($wall < $best)}"; then best=$wall; mem=$rss; fi
done
printf 'tenant %s namespaces: results.json %s, OSCAL %s; report --format oscal: wall %ss, peak %d MiB\n' \
  "$namespaces" "$(du -h "$work/run/results.json" | cut -f1)" "$(du -sh "$work/oscal/oscal" | cut -f1)" \
  "$best" "$((mem / 1024))"
