#!/usr/bin/env bash
# Start this machine's PostgreSQL 15 cluster (Debian, no systemd needed), give
# the postgres role a password for TCP logins, create a test database and
# print its URL. Used by .ci/run; handy for running the PostgreSQL tests
# locally:  export ATRIUM_TEST_POSTGRES=$(scripts/postgres-up.sh)
set -euo pipefail
db=${1:-atrium_test}
pw=${ATRIUM_PG_PASSWORD:-postgres}

if ! pg_lsclusters -h | awk '$1=="15" && $2=="main" {print $4}' | grep -q online; then
	pg_ctlcluster 15 main start >&2
fi
for _ in $(seq 1 50); do
	runuser -u postgres -- pg_isready -q && break
	sleep 0.2
done
runuser -u postgres -- psql -q -v ON_ERROR_STOP=1 -c "ALTER USER postgres PASSWORD '$pw'" >&2
if ! runuser -u postgres -- psql -Atc "SELECT 1 FROM pg_database WHERE datname='$db'" | grep -q 1; then
	runuser -u postgres -- createdb "$db" >&2
fi
echo "postgres://postgres:$pw@127.0.0.1:5432/$db?sslmode=disable"
