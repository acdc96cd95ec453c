#!/usr/bin/env bash
# /usr/local/bin/kiosk on a kiosk (installed by install-kiosk.sh): the guide's diagnostics,
# `kiosk status [--json]` and `kiosk selftest`, for a technician's login. They need the
# kiosk user's files (/etc/kiosk is 0750, the token and the buffer 0600), so they run as
# user kiosk, from its state directory, as kiosk.service runs the daemon: through sudo for
# members of group kiosk-admin (/etc/sudoers.d/kiosk-admin allows exactly these command
# lines), through runuser for root. Anything else runs /opt/kiosk/bin/kiosk as you.
set -euo pipefail

self=/usr/local/bin/kiosk
kiosk=/opt/kiosk/bin/kiosk
config=/etc/kiosk/kiosk.toml
state=/var/lib/kiosk

case "$*" in
    status | "status --json" | selftest) ;;
    *) exec "$kiosk" "$@" ;;
esac

if [[ $(id -un) == kiosk ]]; then
    # lgpio puts its notification FIFOs in $LG_WD, else the working directory.
    cd "$state" 2>/dev/null || cd /
    export LG_WD=$state
    exec "$kiosk" "$1" --config "$config" "${@:2}"
elif ((EUID == 0)); then
    exec runuser -u kiosk -- "$self" "$@"
elif sudo -n -l -u kiosk "$self" "$@" >/dev/null 2>&1; then
    exec sudo -n -u kiosk "$self" "$@"
else
    printf 'kiosk: %s may not read the kiosk'"'"'s files: add it to group kiosk-admin (sudo usermod -aG kiosk-admin %s), log in again, or use sudo kiosk %s\n' \
        "$(id -un)" "$(id -un)" "$*" >&2
    exit 1
fi
