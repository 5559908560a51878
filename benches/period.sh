#!/usr/bin/env bash
# Benchmark of `siemproof period` over a year: 365 daily signed runs of the demo tenant in a ledger,
# then the period report over all of them (verify the chain and signatures, load 365 results.json,
# compute, render JSON, Markdown, HTML and OSCAL). Prints the best wall time of N and the peak memory.
# Run on a quiet machine:  bash benches/period.sh
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-5}
days=${DAYS:-365}
cargo build --release --quiet --bin siemproof
bin=target/release/siemproof
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
$bin keygen --unencrypted --out "$work/k" >/dev/null
start=$(date -u -d 2026-11-20T09:00:00Z +%s)
for i in $(seq 0 $((days - 1))); do
  as_of=$(date -u -d "@$((start + i * 86400))" +%FT%TZ)
  $bin audit fixtures/tenants/contoso-demo --as-of "$as_of" --format json --sign "$work/k.key" \
    --ledger "$work/ledger" --out "$work/run" >/dev/null 2>&1 || [ $? -eq 1 ]
  rm -rf "$work/run"
done
last=$(date -u -d "@$((start + (days - 1) * 86400))" +%F)
best="" mem=""
for _ in $(seq "$runs"); do
  rm -rf "$work/period"
  /usr/bin/time -f "%e %M" -o "$work/t" $bin period "$work/ledger" --from 2026-11-20 --to "$last" \
    --pubkey "$work/k.pub" --out "$work/period" >/dev/null || [ $? -eq 1 ]
  read -r wall rss < <(tail -n 1 "$work/t")
  if [ -z "$best" ] || awk "BEGIN{exit !($wall < $best)}"; then best=$wall; mem=$rss; fi
done
size=$(du -sh "$work/ledger" | cut -f1)
printf 'period over %d runs (ledger %s): wall %ss (best of %d), peak %d MiB\n' "$days" "$size" "$best" "$runs" "$((mem / 1024))"
