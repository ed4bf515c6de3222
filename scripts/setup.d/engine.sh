#!/bin/sh
# What the deploy engine's tests need on a Debian 12 controller (run as root; idempotent).
# rpm, dnf and createrepo-c: the dnf backend installs for real from a local RPM
# repository into an offline root; openssh-server/-client: the SSH connector's tests run
# a throwaway sshd on 127.0.0.1; libaugeas-dev, pkg-config and augeas-lenses: the
# python-augeas binding (built into the virtualenv) that edits config files through lenses;
# systemd: `systemctl --root` enables units inside an offline root.
set -eu

PACKAGES="rpm dnf createrepo-c openssh-server openssh-client libaugeas-dev augeas-lenses pkg-config systemd"

missing=""
for pkg in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $pkg"
    fi
done

if [ -n "$missing" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y --no-install-recommends $missing
fi

# sshd needs its privilege separation folder; no sshd is left running.
mkdir -p /run/sshd

VENV="${VENV:-.venv}"
if [ -x "$VENV/bin/python" ] && ! "$VENV/bin/python" -c "import augeas" 2>/dev/null; then
    "$VENV/bin/pip" install -q python-augeas
fi
