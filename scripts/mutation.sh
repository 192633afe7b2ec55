#!/usr/bin/env bash
# Mutation testing with gremlins: each covered one-line mutant of a
# package is built and the package's tests are run against it (real
# memcached, started by the tests); a mutant the tests do not catch
# "lives". Prints the survivors and the efficacy (killed / (killed +
# lived)) per file. Not part of .ci/run: it runs the package's suite once
# per mutant (memcluster: about 220 mutants, half an hour with 2 workers).
#
#   bash scripts/mutation.sh                  # memcluster
#   PKGS=". ./memcluster" bash scripts/mutation.sh
#   WORKERS=1 bash scripts/mutation.sh
#
# Needs Go, memcached and python3; installs gremlins v0.6.0 with go install.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS="${PKGS:-./memcluster}"
WORKERS="${WORKERS:-2}"
GREMLINS="github.com/go-gremlins/gremlins/cmd/gremlins@v0.6.0"
command -v memcached >/dev/null 2>&1 || { echo "missing memcached: sudo apt-get install -y memcached" >&2; exit 1; }
bin="$(go env GOPATH)/bin/gremlins"
[ -x "$bin" ] || go install "$GREMLINS"

mkdir -p _bench/results
for pkg in $PKGS; do
	name=$(basename "$(cd "$pkg" && pwd)")
	out="_bench/results/mutation-$name-$(date +%Y%m%d-%H%M%S).json"
	echo "== gremlins $pkg (workers $WORKERS; results in $out)"
	# -count=1: gremlins times each mutant's run from the coverage run,
	# which a cached test result would make take milliseconds. CI=true: a
	# missing memcached fails the tests instead of skipping them, which
	# would let every mutant live.
	GOFLAGS=-count=1 CI=true "$bin" unleash --workers "$WORKERS" --timeout-coefficient 3 -o "$out" "$pkg" >/dev/null || true
	echo "== survivors and efficacy per file ($pkg)"
	python3 - "$out" <<'PY'
import json, sys, collections
data = json.load(open(sys.argv[1]))
per = collections.defaultdict(lambda: [0, 0])
for f in data.get("files", []):
    for m in f.get("mutations", []):
        if m["status"] == "KILLED":
            per[f["file_name"]][0] += 1
        elif m["status"] == "LIVED":
            per[f["file_name"]][1] += 1
            print(f"  lived: {f['file_name']}:{m['line']}:{m['column']} {m['type']}")
tk = tl = 0
for name, (k, l) in sorted(per.items()):
    tk, tl = tk + k, tl + l
    print(f"  {name:28} {k:4} killed {l:4} lived  {100 * k / max(k + l, 1):5.1f}%")
print(f"  {'total':28} {tk:4} killed {tl:4} lived  {100 * tk / max(tk + tl, 1):5.1f}%")
PY
done
