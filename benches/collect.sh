#!/usr/bin/env bash
# Benchmark of `siemproof collect` against the local mock (examples/mock-cloud.rs) serving a
# generated large tenant (examples/gen-tenant.rs) with 20 ms latency per response: wall time,
# requests sent, and the ratio to a sequential run (--concurrency 1). LIMITS=documented makes the
# mock enforce Microsoft's read limits (ARM's token bucket, Graph's report limit, AF429), and it
# then prints how many requests it refused.
#   bash benches/collect.sh            (NAMESPACES=300 APPS=3000 LATENCY_MS=20 LIMITS=off by default)
set -euo pipefail
cd "$(dirname "$0")/.."
namespaces=${NAMESPACES:-300}
apps=${APPS:-3000}
latency=${LATENCY_MS:-20}
limits=${LIMITS:-off}
cargo build --release --quiet --bin siemproof --example gen-tenant --example mock-cloud
work=$(mktemp -d)
mock_pid=""
cleanup() {
  if [ -n "$mock_pid" ]; then kill -INT "$mock_pid" 2>/dev/null || true; wait "$mock_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
target/release/examples/gen-tenant --namespaces "$namespaces" --apps "$apps" --out "$work/tenant" >/dev/null
target/release/examples/mock-cloud --tenant "$work/tenant" --port 0 --latency-ms "$latency" \
  --limits "$limits" --write-config "$work/mock.toml" >"$work/mock.log" 2>&1 &
mock_pid=$!
for _ in $(seq 100); do [ -s "$work/mock.toml.env" ] && grep -q listening "$work/mock.log" && break; sleep 0.1; done
set -a; . "$work/mock.toml.env"; set +a
run() {
  local conc=$1
  /usr/bin/time -f "%e" -o "$work/t" target/release/siemproof collect --config "$work/mock.toml" \
    --out "$work/ev-$conc" --concurrency "$conc" >"$work/out-$conc" 2>&1
  local wall requests
  wall=$(cat "$work/t")
  requests=$(sed -n 's/.*items, \([0-9]*\) requests.*/\1/p' "$work/out-$conc")
  echo "$wall $requests"
}
read -r wall_c req_c < <(run 16)
read -r wall_s req_s < <(run 1)
printf 'tenant: %s namespaces, %s apps; mock latency %s ms\n' "$namespaces" "$apps" "$latency"
printf 'concurrent (--concurrency 16): %6ss  %6s requests\n' "$wall_c" "$req_c"
printf 'sequential (--concurrency 1):  %6ss  %6s requests\n' "$wall_s" "$req_s"
awk -v c="$wall_c" -v s="$wall_s" 'BEGIN { printf "speed-up: %.1fx\n", s / c }'
if [ "$limits" != off ]; then
  kill -INT "$mock_pid"; wait "$mock_pid" || true; mock_pid=""
  printf 'mock limits %s, both runs: %s\n' "$limits" "$(sed -n 's/^limits //p' "$work/mock.log")"
fi
