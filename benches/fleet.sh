#!/usr/bin/env bash
# Benchmark of `siemproof fleet`: N demo-sized tenants (hard-linked copies of the built-in
# contoso-demo bundle, default 1,000) audited by `fleet audit` on every core with one compiled
# catalogue, against one `siemproof audit` process per tenant (the catalogue compiled each time)
# on the same cores; then `fleet report` over all of them. Wall time, CPU, peak memory, time per
# tenant. Run on a quiet machine:  bash benches/fleet.sh   (TENANTS=100 SAMPLE=50 to shorten)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${TENANTS:-1000}
sample=${SAMPLE:-100}
cores=$(nproc)
cargo build --release --quiet --bin siemproof
bin=$PWD/target/release/siemproof
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bundles"
{
  printf '[fleet]\nname = "bench"\n'
  for i in $(seq -w 1 "$n"); do
    cp -rl fixtures/tenants/contoso-demo "$work/bundles/t$i"
    printf '[[tenants]]\nslug = "t%s"\nbundle = "bundles/t%s"\n' "$i" "$i"
  done
} > "$work/fleet.toml"
measure() { # label, command...
  local label=$1; shift
  /usr/bin/time -f "%e %U %S %M" -o "$work/t" "$@" >/dev/null 2>&1 || true
  read -r wall user sys rss < <(tail -n 1 "$work/t")
  printf '%-44s wall %8ss  cpu %8ss  peak %6d MiB\n' "$label" "$wall" "$(awk "BEGIN{print $user + $sys}")" "$((rss / 1024))"
  echo "$wall"  > "$work/last"
}
per() { awk "BEGIN{printf \"%.1f\", 1000 * $(cat "$work/last") / $1}"; }
echo "machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo); commit $(git rev-parse --short HEAD)"
measure "fleet audit, $n tenants, --format json" "$bin" fleet audit "$work/fleet.toml" --as-of 2026-11-20T12:00:00Z --format json --state "$work/s1"
echo "  per tenant: $(per "$n") ms"
measure "fleet audit, $n tenants, json,html,md" "$bin" fleet audit "$work/fleet.toml" --as-of 2026-11-20T12:00:00Z --state "$work/s2"
echo "  per tenant: $(per "$n") ms"
measure "fleet audit --resume (nothing changed)" "$bin" fleet audit "$work/fleet.toml" --as-of 2026-11-20T12:00:00Z --state "$work/s2" --resume
echo "  per tenant: $(per "$n") ms"
# One process per tenant, $cores at a time, on the first $sample tenants.
ls "$work/bundles" | head -n "$sample" > "$work/sample"
measure "siemproof audit per tenant, $sample tenants, -P$cores" \
  xargs -P "$cores" -I{} "$bin" audit "$work/bundles/{}" --as-of 2026-11-20T12:00:00Z --format json --fail-on never --out "$work/alone/{}" < "$work/sample"
echo "  per tenant: $(per "$sample") ms"
measure "fleet report, $n tenants" "$bin" fleet report "$work/fleet.toml" --from "$work/s2" --out "$work/portfolio"
echo "  per tenant: $(per "$n") ms; portfolio $(du -sh "$work/portfolio" | cut -f1)"
