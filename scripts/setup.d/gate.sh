#!/bin/sh
# Debian packages the stage gate tests need: PostgreSQL 15 (the tests start a throwaway
# server with initdb/pg_ctl as the postgres user) and Debian's Chromium for the headless
# browser tests (Playwright drives /usr/bin/chromium; no browser is downloaded).
# Idempotent; run as root on Debian 12.
set -eu
. "$(dirname "$0")/../lib/apt.sh"
apt_install postgresql chromium fonts-dejavu-core
# The Debian package creates and starts a cluster when systemd runs; the tests need none.
if command -v pg_lsclusters >/dev/null 2>&1 && pg_lsclusters -h 2>/dev/null | grep -q online; then
    pg_lsclusters -h | awk '$4 == "online" {print $1, $2}' | while read -r version cluster; do
        pg_ctlcluster "$version" "$cluster" stop || true
    done
fi
id postgres >/dev/null 2>&1
