#!/usr/bin/env bash
# Benchmark of `siemproof fleet collect` against Microsoft's limits shared by a fleet: N
# generated tenants (examples/gen-tenant.rs --index K, NAMESPACES each), one mock per tenant,
# all playing one Microsoft (examples/fleet-mock.rs): one multi-tenant app consented in every
# tenant, one set of documented read limits. Graph's identity and access reports limit holds
# per app across all tenants (122 per 10 s), so the fleet's audit-log reads (two per tenant)
# set the bound once N is large: (2 N - 122) / 12.2 s. Prints wall time, the mock's rate-limit
# bound (the slowest bucket's (served - burst) / refill over every tenant), the ratio and the
# requests refused.
#   bash benches/fleet-collect.sh      (TENANTS=200 NAMESPACES=1 AT_ONCE=64 LATENCY_MS=20)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${TENANTS:-200}
namespaces=${NAMESPACES:-1}
at_once=${AT_ONCE:-64}
latency=${LATENCY_MS:-20}
cargo build --release --quiet --bin siemproof --example gen-tenant --example fleet-mock
work=$(mktemp -d)
mock_pid=""
cleanup() {
  if [ -n "$mock_pid" ]; then kill -INT "$mock_pid" 2>/dev/null || true; wait "$mock_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/tenants"
for i in $(seq 1 "$n"); do
  target/release/examples/gen-tenant --namespaces "$namespaces" --index "$i" \
    --out "$work/tenants/t$(printf %04d "$i")" >/dev/null
done
target/release/examples/fleet-mock --tenants "$work/tenants" --out "$work/fleet" \
  --latency-ms "$latency" --limits documented >"$work/mock.log" 2>&1 &
mock_pid=$!
for _ in $(seq 600); do grep -q listening "$work/mock.log" 2>/dev/null && break; sleep 0.1; done
grep -q listening "$work/mock.log" || { cat "$work/mock.log" >&2; exit 1; }
set -a; . "$work/fleet/fleet.env"; set +a
rc=0
/usr/bin/time -f "%e %M" -o "$work/t" target/release/siemproof fleet collect "$work/fleet/fleet.toml" \
  --state "$work/state" --tenants-at-once "$at_once" --exit-zero >"$work/out" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || { tail -20 "$work/out" >&2; exit 1; }
read -r wall rss < <(tail -n 1 "$work/t")
kill -INT "$mock_pid"; wait "$mock_pid" 2>/dev/null || true; mock_pid=""
line=$(grep '^limits ' "$work/mock.log")
served=$(sed -n 's/^served \([0-9]*\) requests/\1/p' "$work/mock.log")
bound=$(sed -n 's/.*rate-limit bound \([0-9.]*\) s.*/\1/p' <<<"$line")
collected=$(grep -l '"exit": *0' "$work"/state/*/collect.json 2>/dev/null | wc -l)
printf 'fleet: %s tenants x %s namespace(s); %s at once; mock latency %s ms; documented limits shared\n' "$n" "$namespaces" "$at_once" "$latency"
awk -v w="$wall" -v b="$bound" -v s="$served" -v c="$collected" -v n="$n" -v r="$rss" \
  'BEGIN { printf "wall %.1f s  bound %.1f s  wall/bound %.2f  requests served %d  tenants collected %d/%d  peak %d MiB\n", w, b, (b > 0 ? w / b : 0), s, c, n, r / 1024 }'
printf 'mock: %s\n' "$line"
