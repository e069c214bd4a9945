#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests: `scripts/postgres.sh up DIR`
# creates a cluster in DIR (initdb), starts it listening only on a unix
# socket in DIR (no TCP port, so nothing clashes with another server), and
# prints the connection string for PROVISIONING_TEST_POSTGRES on stdout;
# `scripts/postgres.sh down DIR` stops it. PostgreSQL refuses to run as root:
# as root, the cluster belongs to the "postgres" user that Debian's package
# creates (else "nobody"). Used by `make postgres-up` and .ci/run.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then
	echo "usage: $0 up|down DIR" >&2
	exit 2
fi

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bin" ]; then
	echo "PostgreSQL is not installed: apt-get install -y postgresql" >&2
	exit 1
fi

as_owner() {
	if [ "$(id -u)" = 0 ]; then
		local user=postgres
		id -u "$user" >/dev/null 2>&1 || user=nobody
		runuser -u "$user" -- "$@"
	else
		"$@"
	fi
}

case "$cmd" in
up)
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	if [ "$(id -u)" = 0 ]; then
		user=postgres
		id -u "$user" >/dev/null 2>&1 || user=nobody
		chown "$user" "$dir"
	fi
	chmod 700 "$dir"
	if [ ! -f "$dir/data/PG_VERSION" ]; then
		as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-instructions >"$dir/initdb.log" 2>&1 ||
			{ cat "$dir/initdb.log" >&2; exit 1; }
	fi
	if ! as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
		as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
			-o "-c listen_addresses='' -k $dir -c max_connections=300" start >/dev/null ||
			{ cat "$dir/server.log" >&2; exit 1; }
	fi
	echo "postgres://postgres@/postgres?host=$dir&sslmode=disable"
	;;
down)
	if [ -f "$dir/data/PG_VERSION" ]; then
		as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
	fi
	;;
*)
	echo "usage: $0 up|down DIR" >&2
	exit 2
	;;
esac
