#!/usr/bin/env bash
# Runs the whole test suite: formatting, tidy go.mod/go.sum in all three
# modules, go vet, staticcheck, the race-enabled tests of the library and the
# example (real memcached, also behind nutcracker; real headless Chromium)
# and a short run of every fuzz target.
#
# Needs Go, memcached, nutcracker (twemproxy) and chromium. As root with
# apt-get, missing packages are installed; otherwise it says what to install
# and stops.
set -euo pipefail
cd "$(dirname "$0")/.."
# Debian installs nutcracker in /usr/sbin, which an ordinary user's PATH
# lacks.
export PATH="$PATH:/usr/local/sbin:/usr/sbin"

FUZZTIME="${FUZZTIME:-10s}"
STATICCHECK="honnef.co/go/tools/cmd/staticcheck@v0.8.2"

need() { # need COMMAND DEBIAN-PACKAGE
	command -v "$1" >/dev/null 2>&1 && return 0
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "== installing $2"
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
		command -v "$1" >/dev/null 2>&1 && return 0
	fi
	echo "missing $1: install it with: sudo apt-get install -y $2" >&2
	exit 1
}
need memcached memcached
need nutcracker nutcracker
need chromium chromium

modules=(. _example _bench)

echo "== gofmt"
unformatted=$(gofmt -l "${modules[@]}")
if [ -n "$unformatted" ]; then
	echo "gofmt would change:" >&2
	echo "$unformatted" >&2
	exit 1
fi

tidy_err=$(mktemp)
trap 'rm -f "$tidy_err"' EXIT
for m in "${modules[@]}"; do
	echo "== go mod tidy -diff ($m)"
	label="$m"
	if path=$(cd "$m" && go list -m 2>/dev/null); then label="$path ($m)"; fi
	# -diff prints the needed changes on stdout and exits 1; a failure to
	# load the module (no network, broken go.mod) prints only on stderr.
	if ! tidy_diff=$(cd "$m" && go mod tidy -diff 2>"$tidy_err"); then
		if [ -n "$tidy_diff" ]; then
			echo "$tidy_diff" >&2
			echo "module $label is not tidy: run 'go mod tidy' in $m and commit its go.mod and go.sum" >&2
		else
			cat "$tidy_err" >&2
			echo "go mod tidy -diff failed in module $label" >&2
		fi
		exit 1
	fi
done

for m in "${modules[@]}"; do
	echo "== go vet + staticcheck ($m)"
	(cd "$m" && go vet ./... && go run "$STATICCHECK" ./...)
done

echo "== go test -race (library)"
go test -race -count=1 ./...

echo "== go test -race (_example, including the browser test)"
(cd _example && go test -race -count=1 ./...)

echo "== go test (_bench compiles, benchmarks not run)"
(cd _bench && go test -count=1 -run '^$' ./...)

for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' ./*_test.go | sed 's/^func //'); do
	echo "== fuzz $target ($FUZZTIME)"
	# The fuzzing engine sometimes stops a loaded run with a bare "context
	# deadline exceeded" and no failing input: run that once more. A real
	# failure prints "Failing input written to" and is never retried.
	for try in 1 2; do
		if out=$(go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" . 2>&1); then
			echo "$out" | tail -n 1
			break
		fi
		echo "$out"
		if [ "$try" = 2 ] || ! grep -q 'context deadline exceeded' <<<"$out" || grep -q 'Failing input' <<<"$out"; then
			exit 1
		fi
		echo "== fuzz $target: engine timeout without a failing input, retrying once"
	done
done

echo "== all checks passed"
