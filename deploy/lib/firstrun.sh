#!/usr/bin/env bash
# First boot of a Bookworm card written by deploy/flash. cmdline.txt runs it once, as root,
# before the normal boot (systemd.run=, as Raspberry Pi Imager does); the Pi reboots after.
# It sets up the system from kiosk/setup.env, installs the kiosk with kiosk/install-kiosk.sh
# (the same install deploy/provision runs), then removes its traces from the boot partition.
# A log stays in /var/log/kiosk-firstboot.log, and on failure also in kiosk/firstboot.log on
# the boot partition, readable from a laptop.
set -uo pipefail

BOOT=${KIOSK_BOOT:-/boot/firmware}  # overridable for tests
R=${KIOSK_ROOT:-}                   # path prefix of the system being set up ("" = this one)
KIT="$BOOT/kiosk"
LOG="$R/var/log/kiosk-firstboot.log"
IMAGER=/usr/lib/raspberrypi-sys-mods/imager_custom

mkdir -p "$(dirname "$LOG")"
exec > >(tee -a "$LOG") 2>&1
echo "kiosk first boot: $(date -u +%Y-%m-%dT%H:%M:%SZ)"

# Never boot into this again, whatever happens below.
# shellcheck disable=SC2317  # called by the EXIT trap
remove_hook() {
    sed -i 's| systemd\.run=[^ ]*||; s| systemd\.run_success_action=[^ ]*||; s| systemd\.unit=kernel-command-line\.target||' "$BOOT/cmdline.txt"
    rm -f "$BOOT/firstrun.sh"
}
trap remove_hook EXIT

# Set by deploy/flash: KIOSK_HOSTNAME, KIOSK_TIMEZONE, TECH_USER, TECH_SSH_KEY,
# WIFI_SSID, WIFI_PSK, WIFI_COUNTRY (empty when not given).
# shellcheck source=/dev/null
source "$KIT/setup.env" || { echo "no $KIT/setup.env"; exit 1; }

set_hostname() {
    local old
    old=$(tr -d ' \t\r\n' <"$R/etc/hostname" 2>/dev/null || true)
    if [[ -z "$R" && -x "$IMAGER" ]]; then
        "$IMAGER" set_hostname "$KIOSK_HOSTNAME"
    else
        echo "$KIOSK_HOSTNAME" >"$R/etc/hostname"
        if [[ -n "$old" ]]; then
            sed -i "s/127\.0\.1\.1.*$old/127.0.1.1\t$KIOSK_HOSTNAME/" "$R/etc/hosts"
        fi
    fi
    echo "hostname: $KIOSK_HOSTNAME"
}

set_timezone() {
    if [[ -z "$R" && -x "$IMAGER" ]]; then
        "$IMAGER" set_timezone "$KIOSK_TIMEZONE"
    else
        ln -sf "/usr/share/zoneinfo/$KIOSK_TIMEZONE" "$R/etc/localtime"
        echo "$KIOSK_TIMEZONE" >"$R/etc/timezone"
    fi
    echo "timezone: $KIOSK_TIMEZONE"
}

# The technician's account: SSH key only (no password, so no password login), sudo without
# a password (deploy/provision needs it), group gpio for `kiosk selftest`.
add_technician() {
    local home="/home/$TECH_USER"
    if ! grep -q "^$TECH_USER:" "$R/etc/passwd"; then
        if [[ -z "$R" && -x /usr/lib/userconf-pi/userconf ]]; then
            # Renames the image's first user (uid 1000) and turns the first-boot wizard off.
            /usr/lib/userconf-pi/userconf "$TECH_USER" '!'
        else
            useradd --create-home --shell /bin/bash "$TECH_USER"
        fi
    fi
    usermod --lock --append --groups sudo,adm,gpio,systemd-journal "$TECH_USER"
    install -d -m 0700 "$R$home/.ssh"
    printf '%s\n' "$TECH_SSH_KEY" >"$R$home/.ssh/authorized_keys"
    chmod 0600 "$R$home/.ssh/authorized_keys"
    chown -R "$TECH_USER:$TECH_USER" "$R$home/.ssh"
    mkdir -p "$R/etc/sudoers.d"
    printf '%s ALL=(ALL) NOPASSWD: ALL\n' "$TECH_USER" >"$R/etc/sudoers.d/010_kiosk-technician"
    chmod 0440 "$R/etc/sudoers.d/010_kiosk-technician"
    mkdir -p "$R/etc/ssh/sshd_config.d"
    printf 'PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin no\n' \
        >"$R/etc/ssh/sshd_config.d/10-kiosk.conf"
    systemctl enable ssh
    echo "technician: $TECH_USER (SSH key only)"
}

set_wifi() {
    local conn="$R/etc/NetworkManager/system-connections/kiosk-wifi.nmconnection"
    if [[ -z "$R" && -x "$IMAGER" ]]; then
        "$IMAGER" set_wlan "$WIFI_SSID" "$WIFI_PSK" "$WIFI_COUNTRY"
    else
        mkdir -p "$(dirname "$conn")"
        (umask 077 && cat >"$conn" <<NM
[connection]
id=kiosk-wifi
type=wifi
autoconnect=true

[wifi]
mode=infrastructure
ssid=$WIFI_SSID

[wifi-security]
key-mgmt=wpa-psk
psk=$WIFI_PSK

[ipv4]
method=auto

[ipv6]
method=auto
NM
        )
        raspi-config nonint do_wifi_country "$WIFI_COUNTRY" 2>/dev/null || true
    fi
    echo "wifi: $WIFI_SSID ($WIFI_COUNTRY)"
}

failed=0
[[ -n "${KIOSK_HOSTNAME:-}" ]] && { set_hostname || failed=1; }
[[ -n "${KIOSK_TIMEZONE:-}" ]] && { set_timezone || failed=1; }
[[ -n "${TECH_USER:-}" && -n "${TECH_SSH_KEY:-}" ]] && { add_technician || failed=1; }
[[ -n "${WIFI_SSID:-}" ]] && { set_wifi || failed=1; }

# Before the normal boot: nothing to start, the reboot that follows starts kiosk.service.
admin=()
[[ -n "${TECH_USER:-}" && -n "${TECH_SSH_KEY:-}" ]] && admin=(--admin "$TECH_USER")
# The secrets' copies on the FAT partition (readable by anyone holding the card): overwritten,
# then removed, whether the install worked or not. This first boot runs once either way (the
# hook is gone): a failed one is finished with deploy/provision or by flashing again.
wipe_secrets() {
    local file
    for file in "$KIT/token" "$KIT/setup.env"; do
        [[ -f "$file" ]] || continue
        shred --zero --iterations=1 --remove "$file" 2>/dev/null || rm -f "$file"
    done
}

if ((failed == 0)) && bash "$KIT/install-kiosk.sh" --source "$KIT" --no-start "${admin[@]}" ${R:+--root "$R"}; then
    wipe_secrets
    rm -rf "$KIT"  # the config copy, the wheelhouse
    echo "kiosk first boot: done"
else
    wipe_secrets  # the token is in /etc/kiosk if the install got that far
    echo "kiosk first boot: FAILED; the log is also in kiosk/firstboot.log on the boot partition"
    cp "$LOG" "$KIT/firstboot.log" 2>/dev/null || true
fi
exit 0
