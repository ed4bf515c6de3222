#!/bin/sh
# Installs what `fossp container build|run` needs on a Debian 12 controller (root; idempotent):
# umoci and skopeo write OCI image archives, podman (with runc) and systemd-nspawn run them.
set -eu

. "$(dirname "$0")/../lib/apt.sh"
apt_install umoci skopeo podman runc systemd-container tar
