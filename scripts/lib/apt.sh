# Sourced by scripts/setup and scripts/setup.d/*.sh (POSIX sh): install the Debian
# packages that are not installed yet, with one `apt-get update` per setup run.
apt_install() {
    missing=""
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
    done
    [ -z "$missing" ] && return 0
    export DEBIAN_FRONTEND=noninteractive
    if [ -z "${FOSSP_APT_UPDATED:-}" ]; then
        apt-get update -qq
        FOSSP_APT_UPDATED=1
        export FOSSP_APT_UPDATED
    fi
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
}
