#!/bin/sh
# Debian packages the stage gate tests need: PostgreSQL 15 (the tests start a throwaway
# server with initdb/pg_ctl as the postgres user) and Debian's Chromium for the headless
# browser tests (Playwright drives /usr/bin/chromium; no browser is downloaded).
# Idempotent; run as root on Debian 12.
set -eu
need=""
[ -x /usr/lib/postgresql/15/bin/initdb ] || need="$need postgresql"
[ -x /usr/bin/chromium ] || need="$need chromium"
fc-list 2>/dev/null | grep -qi dejavu || need="$need fonts-dejavu-core"
if [ -n "$need" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y --no-install-recommends $need
fi
# The Debian package creates and starts a cluster when systemd runs; the tests need none.
if command -v pg_lsclusters >/dev/null 2>&1 && pg_lsclusters -h 2>/dev/null | grep -q online; then
    pg_lsclusters -h | awk '$4 == "online" {print $1, $2}' | while read -r version cluster; do
        pg_ctlcluster "$version" "$cluster" stop || true
    done
fi
id postgres >/dev/null 2>&1
