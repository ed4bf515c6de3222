#!/bin/sh
# Installs what `fossp export ansible`'s tests need on a Debian 12 controller (run as root;
# idempotent): ansible-core 2.14 runs and syntax-checks the exported playbooks.
set -eu

. "$(dirname "$0")/../lib/apt.sh"
apt_install ansible-core
