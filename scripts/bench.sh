#!/usr/bin/env bash
# bench.sh — measure scimd with the scimbench load generator.
#
# Builds scimd, starts it on a free loopback port over a fresh database,
# creates a tenant and token through the CLI, runs scimbench against it and
# stops the server by its process id.
#
# Environment:
#   SCIMBENCH          path to the scimbench source (default: ../shared/scimbench)
#   BENCH_DB           sqlite (default) or postgres
#   BENCH_PG_URL       server URL for BENCH_DB=postgres
#                      (default postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable);
#                      a fresh database is created on it and dropped afterwards
#   BENCH_ARGS         extra scimbench flags
#                      (default: -users 5000 -groups 50 -members 200 -concurrency 8)
#   BENCH_OUT          directory for the JSON report (default: bench-out)
#   BENCH_GO           1 (default) also runs the Go micro-benchmarks of the
#                      store (membership changes on large groups); 0 skips them
#   BENCH_SCIMBENCH    1 (default) also runs the project's own load generator
#                      (go run ./cmd/scimbench): it seeds BENCH_USERS users
#                      straight through the store into a temp SQLite file, or
#                      with BENCH_DB=postgres into a fresh database on
#                      BENCH_PG_URL (dropped afterwards), serves scimd
#                      in-process and measures every phase next to its HTTP
#                      and SQL ceilings; 0 skips it
#   BENCH_USERS        users cmd/scimbench seeds (default 100000)
#   BENCH_IMPORT       1 (default) also times `scimd import` of a generated
#                      CSV of BENCH_IMPORT_USERS users (default 100000) into
#                      an empty tenant of a fresh database; 0 skips it
#   BENCH_SCIMBENCH_ARGS  extra cmd/scimbench flags
#                      (default: -groups 100 -members 100 -concurrency 16 -duration 10s)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bench=${SCIMBENCH:-$root/../shared/scimbench}
if [ ! -f "$bench/main.go" ]; then
	echo "bench: scimbench not found at $bench (set SCIMBENCH)" >&2
	exit 2
fi
db=${BENCH_DB:-sqlite}
args=${BENCH_ARGS:--users 5000 -groups 50 -members 200 -concurrency 8}
out=${BENCH_OUT:-bench-out}
mkdir -p "$out"
out=$(cd "$out" && pwd) # absolute: scimbench runs from its own directory

work=$(mktemp -d)
pid=""
pgdb=""
sbdb=""
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill "$pid"
		wait "$pid" 2>/dev/null || true
	fi
	for d in $pgdb $sbdb; do
		psql "$pgadmin" -qc "DROP DATABASE IF EXISTS $d" >/dev/null 2>&1 || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/scimd" ./cmd/scimd

case "$db" in
sqlite) dburl="sqlite://$work/bench.db" ;;
postgres)
	pgadmin=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
	pgdb="scimd_bench_$$"
	psql "$pgadmin" -qc "CREATE DATABASE $pgdb" >/dev/null
	dburl=$(echo "$pgadmin" | sed -E "s#/[^/?]*(\?|$)#/$pgdb\1#")
	;;
*)
	echo "bench: BENCH_DB must be sqlite or postgres" >&2
	exit 2
	;;
esac

export SCIMD_DATABASE_URL="$dburl" SCIMD_LOG_LEVEL=warn
"$work/scimd" migrate 2>/dev/null
"$work/scimd" tenant create bench >/dev/null
# The load generator deactivates users over and over: the mass-deprovisioning
# brake would (rightly) pause the tenant, so it is off for the benchmark.
"$work/scimd" tenant policy bench --set deprovision_brake=false >/dev/null
token=$("$work/scimd" token create --tenant bench 2>/dev/null)

# Port 0: the kernel picks a free port; scimd logs the address it got.
# Rate limits are off: the benchmark measures what scimd can serve, not the
# per-tenant budget (docs/security.md measures the limits themselves).
SCIMD_LOG_LEVEL=info SCIMD_RATE_TENANT=0 SCIMD_RATE_TOKEN=0 SCIMD_RATE_CONCURRENT=0 \
	"$work/scimd" serve --addr 127.0.0.1:0 2>"$work/serve.log" &
pid=$!
base=""
for _ in $(seq 1 100); do
	base=$(sed -nE 's#.*addr=(http://127\.0\.0\.1:[0-9]+).*#\1#p' "$work/serve.log" | head -1)
	[ -n "$base" ] && break
	sleep 0.1
done
if [ -z "$base" ]; then
	echo "bench: scimd did not start:" >&2
	cat "$work/serve.log" >&2
	exit 1
fi

label="scimd-$db"
report="$out/$label-$(date -u +%Y%m%dT%H%M%SZ).json"
echo "bench: $label at $base ($(nproc) cores); scimbench $args" >&2
# shellcheck disable=SC2086 # args is a list of flags
(cd "$bench" && go run . -base "$base/scim/v2" -token "$token" -label "$label" \
	-server-pid "$pid" -json "$report" $args)
echo "bench: report written to $report" >&2

if [ "${BENCH_SCIMBENCH:-1}" = 1 ]; then
	# The scimd started above is idle from here on; stop it so that it
	# holds no connections while cmd/scimbench runs its own, in-process.
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	pid=""
	users=${BENCH_USERS:-100000}
	sbargs=${BENCH_SCIMBENCH_ARGS:--groups 100 -members 100 -concurrency 16 -duration 10s}
	if [ "$db" = postgres ]; then
		sbdb="scimbench_$$"
		psql "$pgadmin" -qc "CREATE DATABASE $sbdb" >/dev/null
		sburl=$(echo "$pgadmin" | sed -E "s#/[^/?]*(\?|$)#/$sbdb\1#")
	else
		sburl="sqlite://$work/scimbench.db"
	fi
	sbreport="$out/scimbench-$db-$(date -u +%Y%m%dT%H%M%SZ).json"
	echo "bench: cmd/scimbench on $db with $users users; $sbargs" >&2
	# shellcheck disable=SC2086 # sbargs is a list of flags
	go run ./cmd/scimbench -database-url "$sburl" -users "$users" -json "$sbreport" $sbargs |
		tee "${sbreport%.json}.txt"
	echo "bench: report written to $sbreport" >&2
	if [ -n "$sbdb" ]; then
		psql "$pgadmin" -qc "DROP DATABASE IF EXISTS $sbdb" >/dev/null
		sbdb=""
	fi
fi

if [ "${BENCH_IMPORT:-1}" = 1 ]; then
	# scimd import of a generated CSV into an empty tenant of a fresh database.
	n=${BENCH_IMPORT_USERS:-100000}
	csv="$work/import.csv"
	awk -v n="$n" 'BEGIN {
		print "userName,externalId,name.givenName,name.familyName,emails.work,phoneNumbers.mobile,title,active,enterprise.employeeNumber,enterprise.department"
		for (i = 0; i < n; i++)
			printf "user%d@example.com,EXT-%d,Given%d,Family%d,user%d@example.com,+1-555-%07d,Engineer,true,%d,Dept%d\n", i, i, i, i, i, i, 100000 + i, i % 50
	}' >"$csv"
	if [ "$db" = postgres ]; then
		sbdb="scimd_import_$$"
		psql "$pgadmin" -qc "CREATE DATABASE $sbdb" >/dev/null
		impurl=$(echo "$pgadmin" | sed -E "s#/[^/?]*(\?|$)#/$sbdb\1#")
	else
		impurl="sqlite://$work/import.db"
	fi
	SCIMD_DATABASE_URL="$impurl" "$work/scimd" tenant create importbench >/dev/null
	echo "bench: scimd import of $n users on $db" >&2
	start=$(date +%s.%N)
	SCIMD_DATABASE_URL="$impurl" "$work/scimd" import --tenant importbench "$csv" 2>/dev/null | tee "$out/import-$db.txt"
	end=$(date +%s.%N)
	awk -v n="$n" -v s="$start" -v e="$end" 'BEGIN { printf "import: %d users in %.1f s = %.0f users/s\n", n, e - s, n / (e - s) }' |
		tee -a "$out/import-$db.txt"
	if [ -n "$sbdb" ]; then
		psql "$pgadmin" -qc "DROP DATABASE IF EXISTS $sbdb" >/dev/null
		sbdb=""
	fi
fi

if [ "${BENCH_GO:-1}" = 1 ]; then
	echo "bench: Go micro-benchmarks (store/$db)" >&2
	if [ "$db" = postgres ]; then
		TEST_DATABASE_URL="$pgadmin" go test -run '^$' -bench . -benchtime 20x "./store/$db/" | tee "$out/go-$db.txt"
	else
		go test -run '^$' -bench . -benchtime 20x "./store/$db/" | tee "$out/go-$db.txt"
	fi
fi
