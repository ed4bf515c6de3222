#!/bin/sh
# What the deploy engine's tests need on a Debian 12 controller (run as root; idempotent).
# rpm, dnf and createrepo-c: the dnf backend installs for real from a local RPM
# repository into an offline root; openssh-server/-client: the SSH connector's tests run
# a throwaway sshd on 127.0.0.1; libaugeas-dev, pkg-config and augeas-lenses: the
# python-augeas binding (scripts/setup installs it with the `augeas` extra);
# systemd: `systemctl --root` enables units inside an offline root.
set -eu

. "$(dirname "$0")/../lib/apt.sh"
apt_install rpm dnf createrepo-c openssh-server openssh-client libaugeas-dev augeas-lenses pkg-config systemd

# sshd needs its privilege separation folder; no sshd is left running.
mkdir -p /run/sshd
