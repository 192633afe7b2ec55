#!/usr/bin/env bash
# Long run of the concurrent history checker (TestHistory in the root
# package): many simulated browsers against real memcached servers behind
# fault-injecting proxies, in three configurations (3 servers Replicas 2,
# 3 servers Replicas 1, one server), then the session invariants checked
# over the whole recorded history. The Go test starts its own memcached
# processes (internal/memcachedtest) and proxies; needs Go and memcached.
#
# Prints one summary line per configuration (requests, sessions, faults,
# 503 answers, violations per invariant) and, for each broken invariant,
# the seed and excerpts of the history. Full output goes to
# _bench/results/history-<time>.txt.
#
#   bash _bench/history.sh                         # about 2.5 minutes
#   HISTORY_SEED=7 HISTORY_DURATION=5m bash _bench/history.sh
#
# Knobs: HISTORY_SEED (42), HISTORY_USERS browsers at once (48),
# HISTORY_DURATION of the fault phase (120s), HISTORY_REMEMBERED browsers
# in the remember-me idle phase (40), RUN (test regexp, default all three
# configurations: TestHistory), RACE=1 to run under the race detector
# (slower: fewer requests in the same time).
set -euo pipefail
cd "$(dirname "$0")/.."

export HISTORY_SEED="${HISTORY_SEED:-42}"
export HISTORY_USERS="${HISTORY_USERS:-48}"
export HISTORY_DURATION="${HISTORY_DURATION:-120s}"
export HISTORY_REMEMBERED="${HISTORY_REMEMBERED:-40}"
RUN="${RUN:-TestHistory}"
race=()
[ "${RACE:-0}" = 1 ] && race=(-race)

mkdir -p _bench/results
out="_bench/results/history-$(date +%Y%m%d-%H%M%S).txt"
echo "== history: seed=$HISTORY_SEED users=$HISTORY_USERS duration=$HISTORY_DURATION remembered=$HISTORY_REMEMBERED ${race[*]}"
status=0
go test "${race[@]}" -count=1 -v -timeout 60m -run "$RUN" . >"$out" 2>&1 || status=$?

echo "== summary (full output: $out)"
grep -E 'seed=[0-9]+ [0-9a-z-]+: requests=' "$out" | sed 's/^ *history_test.go:[0-9]*: //' || true
grep -E -A4 'violations by the faults around them' "$out" | grep -E 'violations by|^ +[a-d]:' | sed 's/^ *history_test.go:[0-9]*: //; s/^ */    /' || true
grep -E 'invariant .* broken|control sessions|--- (PASS|FAIL)' "$out" | sed 's/^ *//' || true
exit "$status"
