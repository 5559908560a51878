#!/usr/bin/env bash
# Benchmark of `siemproof collect` against the local mock (examples/mock-cloud.rs) serving a
# generated large tenant (examples/gen-tenant.rs) with 20 ms latency per response.
#
# LIMITS=documented (the default): the mock enforces Microsoft's read limits (ARM's token bucket
# of 250 reads refilled at 25/s per principal, Graph's report limit, the Activity API's AF429).
# The mock also serves Azure Monitor's batched metrics read (metrics:getBatch). The collector
# runs three times, each against a fresh mock: paced with batched metrics (as shipped), paced
# with `--metrics per-resource` (one ARM metrics read per namespace, as before the batch), and
# batched with --no-pacing (Retry-After alone). Per run it prints wall time, the mock's
# rate-limit bound (the least time any client could take for the requests served), the ratio,
# requests (all planes, and ARM alone) and the share answered 429/AF429, from `collect --stats`.
# LIMITS=off: no limits; concurrent (--concurrency 16) against sequential (--concurrency 1).
# LIMITS=scaled:K: the limits refilled K times as fast, the collector paced to match.
#   bash benches/collect.sh            (NAMESPACES=300 LATENCY_MS=20 LIMITS=documented)
set -euo pipefail
cd "$(dirname "$0")/.."
namespaces=${NAMESPACES:-300}

latency=${LATENCY_MS:-20}
limits=${LIMITS:-documented}
scale=1
case "$limits" in scaled:*) scale=${limits#scaled:} ;; esac
cargo build --release --quiet --bin siemproof --example gen-tenant --example mock-cloud
work=$(mktemp -d)
mock_pid=""
stop_mock() {
  if [ -n "$mock_pid" ]; then kill -INT "$mock_pid" 2>/dev/null || true; wait "$mock_pid" 2>/dev/null || true; fi
  mock_pid=""
}
cleanup() { stop_mock; rm -rf "$work"; }
trap cleanup EXIT
start_mock() {
  rm -f "$work/mock.toml" "$work/mock.toml.env"
  target/release/examples/mock-cloud --tenant "$work/tenant" --port 0 --latency-ms "$latency" \
    --limits "$limits" --getbatch --write-config "$work/mock.toml" >"$work/mock.log" 2>&1 &
  mock_pid=$!
  for _ in $(seq 100); do [ -s "$work/mock.toml.env" ] && grep -q listening "$work/mock.log" && break; sleep 0.1; done
  set -a; . "$work/mock.toml.env"; set +a
}
target/release/examples/gen-tenant --namespaces "$namespaces" --out "$work/tenant" >/dev/null
# run NAME ARGS...: one collection; prints "wall requests throttled retries exit" (from --stats). Exit 3
# (too little answered, as an unpaced run under the limits can end) is a result, not an error.
run() {
  local name=$1; shift
  local rc=0
  /usr/bin/time -f "%e" -o "$work/t" target/release/siemproof collect --config "$work/mock.toml" \
    --out "$work/ev-$name" --stats "$work/stats-$name.json" --pace-scale "$scale" "$@" \
    >"$work/out-$name" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ]; then cat "$work/out-$name" >&2; exit 1; fi
  python3 -c '
import json, sys
s = json.load(open(sys.argv[2]))
arm = sum(p["requests"] for p in s["planes"] if p["plane"] == "arm")
print(sys.argv[1], *(sum(p[k] for p in s["planes"]) for k in ("requests", "throttled", "retries")), sys.argv[3], arm)
' "$(tail -n 1 "$work/t")" "$work/stats-$name.json" "$rc"
}
printf 'tenant: %s namespaces; mock latency %s ms; limits %s\n' "$namespaces" "$latency" "$limits"
if [ "$limits" = off ]; then
  start_mock
  read -r wall_c req_c _ _ _ _ < <(run c16 --concurrency 16)
  read -r wall_s req_s _ _ _ _ < <(run c1 --concurrency 1)
  printf 'concurrent (--concurrency 16): %6ss  %6s requests\n' "$wall_c" "$req_c"
  printf 'sequential (--concurrency 1):  %6ss  %6s requests\n' "$wall_s" "$req_s"
  awk -v c="$wall_c" -v s="$wall_s" 'BEGIN { printf "speed-up: %.1fx\n", s / c }'
  exit 0
fi
printf '%-13s %8s %8s %6s %9s %7s %9s %7s %8s %5s\n' run wall_s bound_s ratio requests arm throttled '429%' retries exit
for variant in paced per-resource unpaced; do
  start_mock
  extra=()
  [ "$variant" = unpaced ] && extra=(--no-pacing)
  [ "$variant" = per-resource ] && extra=(--metrics per-resource)
  read -r wall req thr retries rc arm < <(run "$variant" "${extra[@]}")
  stop_mock
  line=$(sed -n 's/^limits //p' "$work/mock.log")
  bound=$(sed -n 's/.*rate-limit bound \([0-9.]*\) s.*/\1/p' <<<"$line")
  awk -v n="$variant" -v w="$wall" -v b="$bound" -v r="$req" -v a="$arm" -v t="$thr" -v y="$retries" -v x="$rc" \
    'BEGIN { printf "%-13s %8.1f %8.1f %6.2f %9d %7d %9d %6.2f%% %8d %5s\n", n, w, b, (b > 0 ? w / b : 0), r, a, t, (r > 0 ? 100 * t / r : 0), y, x }'
  printf '  mock: %s\n' "$line"
done
