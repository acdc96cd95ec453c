# shellcheck shell=bash
# shellcheck disable=SC2034  # BOOT_*, ROOT_*, FLAVOUR, OS_* are read by deploy/flash
# The written card, without mounting it: partitions from the partition table (sfdisk), the
# FAT boot partition through mtools at its byte offset, the ext4 root through debugfs.

HOOK="systemd.run=/boot/firmware/firstrun.sh systemd.run_success_action=reboot systemd.unit=kernel-command-line.target"

# Sets BOOT_OFFSET (the first FAT partition) and ROOT_OFFSET (the first Linux one), in bytes.
find_partitions() {  # IMAGE_OR_DEVICE
    local offsets
    offsets=$(sfdisk --json "$1" | python3 -c '
import json, sys
table = json.load(sys.stdin)["partitiontable"]
sector = int(table.get("sectorsize", 512))
FAT = {"b", "c", "e", "6", "ebd0a0a2-b9e5-4433-87c0-68b6b72699c7",
       "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"}
LINUX = {"83", "0fc63daf-8483-4772-8e79-3d69d8477de4"}
boot = [p for p in table["partitions"] if p["type"].lower() in FAT]
root = [p for p in table["partitions"] if p["type"].lower() in LINUX]
print(boot[0]["start"] * sector if boot else "", root[0]["start"] * sector if root else "")
') || die "$1: no partition table (is this a Raspberry Pi OS image?)"
    read -r BOOT_OFFSET ROOT_OFFSET <<<"$offsets"
    [[ -n "$BOOT_OFFSET" ]] || die "$1: no FAT boot partition in the partition table"
}

mtools_run() {  # COMMAND ARGS... (the image is passed with -i by the caller)
    MTOOLS_SKIP_CHECK=1 MTOOLS_NO_VFAT=0 "$@"
}

boot_spec() {  # TARGET -> what mtools' -i takes for the boot partition
    printf '%s@@%s' "$1" "$BOOT_OFFSET"
}

boot_has() {  # TARGET PATH
    mtools_run mdir -i "$(boot_spec "$1")" "::$2" >/dev/null 2>&1
}

# A file of the root filesystem, or nothing.
rootfs_cat() {  # TARGET PATH
    [[ -n "$ROOT_OFFSET" ]] || return 0
    debugfs -R "cat $2" "$1?offset=$ROOT_OFFSET" 2>/dev/null || true
}

rootfs_has() {  # TARGET PATH
    [[ -n "$ROOT_OFFSET" ]] &&
        debugfs -R "stat $2" "$1?offset=$ROOT_OFFSET" 2>/dev/null | grep -q '^Inode:'
}

# How this image runs its first-boot setup. Sets FLAVOUR (firstrun|cloud-init), OS_NAME.
# Raspberry Pi OS Trixie images ship cloud-init, which reads user-data from the boot
# partition (that is what Raspberry Pi Imager writes for them); Bookworm images have no
# cloud-init, and Imager hooks firstrun.sh into cmdline.txt. So: cloud-init in the root
# filesystem (/usr/bin/cloud-init), or a cloud-init file already on the boot partition, means
# cloud-init; otherwise firstrun.sh. os-release (read with debugfs: /etc/os-release is a
# symlink to /usr/lib/os-release) names the release for the technician and for the check
# that a Trixie-or-later image really has cloud-init.
detect_flavour() {  # TARGET
    local os codename
    os=$(rootfs_cat "$1" /usr/lib/os-release)
    [[ -n "$os" ]] || os=$(rootfs_cat "$1" /etc/os-release)
    codename=$(sed -n 's/^VERSION_CODENAME=//p' <<<"$os" | tr -d '"')
    OS_NAME=$(sed -n 's/^PRETTY_NAME=//p' <<<"$os" | tr -d '"')
    OS_NAME=${OS_NAME:-unknown release}
    if rootfs_has "$1" /usr/bin/cloud-init || boot_has "$1" user-data || boot_has "$1" meta-data; then
        FLAVOUR=cloud-init
    else
        case "$codename" in
            trixie | forky | duke)
                die "$OS_NAME has no cloud-init in its root filesystem: cannot set up the first boot"
                ;;
            *) FLAVOUR=firstrun ;;
        esac
    fi
}

# A YAML double-quoted scalar (the JSON subset); values were checked for control characters.
yaml_str() {
    local s=${1//\\/\\\\}
    printf '"%s"' "${s//\"/\\\"}"
}

# cloud-init NoCloud files: user-data, meta-data, network-config into DIR.
write_cloud_init() {  # DIR
    local dir=$1 admin=""
    [[ -n "$TECH_SSH_KEY" ]] && admin=" --admin $TECH_USER"
    {
        echo "#cloud-config"
        echo "# Written by deploy/flash: the first boot of a feedback kiosk (docs/technician.md)."
        echo "hostname: $(yaml_str "$KIOSK_HOSTNAME")"
        echo "manage_etc_hosts: true"
        [[ -n "$KIOSK_TIMEZONE" ]] && echo "timezone: $(yaml_str "$KIOSK_TIMEZONE")"
        if [[ -n "$TECH_SSH_KEY" ]]; then
            echo "users:"
            echo "  - name: $(yaml_str "$TECH_USER")"
            echo "    groups: [sudo, adm, gpio, systemd-journal]"
            echo "    shell: /bin/bash"
            echo "    lock_passwd: true"
            echo "    sudo: \"ALL=(ALL) NOPASSWD: ALL\""
            echo "    ssh_authorized_keys:"
            echo "      - $(yaml_str "$TECH_SSH_KEY")"
            echo "ssh_pwauth: false"
            echo "enable_ssh: true"
        fi
        echo "runcmd:"
        [[ -n "$TECH_SSH_KEY" ]] && echo "  - [systemctl, enable, --now, ssh]"
        # The first boot runs once, whether the install works or not: the secrets' copies
        # (kiosk/token; network-config holds the Wi-Fi passphrase) are overwritten and
        # removed either way, and so are the other seed files; cloud-init is switched off,
        # so that a later boot without its seed does not take the Pi for a new instance and
        # set it up again (what it set up stays: hostname, user, the network). After a
        # success the kiosk directory goes too (config copy, wheelhouse); after a failure it
        # stays with the log in kiosk/firstboot.log, and deploy/provision finishes the job.
        echo "  - [sh, -c, $(yaml_str "$(cloud_init_install_command "$admin")")]"
    } >"$dir/user-data"
    {
        echo "instance-id: $(yaml_str "kiosk-$KIOSK_HOSTNAME-$(date -u +%Y%m%d%H%M%S)")"
        echo "local-hostname: $(yaml_str "$KIOSK_HOSTNAME")"
    } >"$dir/meta-data"
    {
        echo "network:"
        echo "  version: 2"
        echo "  renderer: NetworkManager"
        echo "  ethernets:"
        echo "    eth0:"
        echo "      dhcp4: true"
        echo "      optional: true"
        if [[ -n "$WIFI_SSID" ]]; then
            echo "  wifis:"
            echo "    wlan0:"
            echo "      dhcp4: true"
            echo "      optional: true"
            echo "      regulatory-domain: $(yaml_str "$WIFI_COUNTRY")"
            echo "      access-points:"
            echo "        $(yaml_str "$WIFI_SSID"):"
            echo "          password: $(yaml_str "$WIFI_PSK")"
        fi
    } >"$dir/network-config"
}

# The runcmd line of user-data that installs the kiosk (sh, as cloud-init runs it).
cloud_init_install_command() {  # " --admin USER" or ""
    local boot=/boot/firmware log=/var/log/kiosk-firstboot.log
    printf '%s' "if bash $boot/kiosk/install-kiosk.sh --source $boot/kiosk$1 > $log 2>&1;" \
        " then ok=1; echo 'kiosk first boot: done' >> $log;" \
        " else ok=0; echo 'kiosk first boot: FAILED' >> $log; cp $log $boot/kiosk/firstboot.log; fi;" \
        " for f in $boot/kiosk/token $boot/network-config; do" \
        " [ -f \"\$f\" ] && { shred --zero --iterations=1 --remove \"\$f\" || rm -f \"\$f\"; }; done;" \
        " rm -f $boot/user-data $boot/meta-data $boot/network-config;" \
        " [ \$ok = 1 ] && rm -rf $boot/kiosk;" \
        " touch /etc/cloud/cloud-init.disabled"
}

# Values for firstrun.sh, each a bash-quoted assignment.
write_setup_env() {  # FILE
    local name
    for name in KIOSK_HOSTNAME KIOSK_TIMEZONE TECH_USER TECH_SSH_KEY WIFI_SSID WIFI_PSK WIFI_COUNTRY; do
        printf '%s=%q\n' "$name" "${!name}"
    done >"$1"
}

# cmdline.txt is one line; the hook is appended once (a second flash replaces it).
hook_cmdline() {  # TARGET
    local spec line
    spec=$(boot_spec "$1")
    line=$(mtools_run mtype -i "$spec" ::cmdline.txt | tr -d '\r\n') ||
        die "the boot partition has no cmdline.txt"
    line=$(sed 's| systemd\.run=[^ ]*||; s| systemd\.run_success_action=[^ ]*||; s| systemd\.unit=kernel-command-line\.target||' <<<"$line")
    printf '%s %s\n' "$line" "$HOOK" >"$WORKDIR/cmdline.txt"
    mtools_run mcopy -o -i "$spec" "$WORKDIR/cmdline.txt" ::cmdline.txt
}

# Everything the first boot needs, onto the FAT partition. PAYLOAD holds kiosk/ (config,
# token, wheelhouse, install script, unit) and the first-boot files for FLAVOUR.
write_boot_payload() {  # TARGET PAYLOAD
    local spec file
    spec=$(boot_spec "$1")
    if boot_has "$1" kiosk; then
        mtools_run mdeltree -i "$spec" ::kiosk >/dev/null
    fi
    mtools_run mcopy -s -o -i "$spec" "$2/kiosk" :: ||
        die "could not write kiosk/ to the boot partition (full? $(mtools_run minfo -i "$spec" 2>/dev/null | sed -n 's/.*free clusters=\([0-9]*\).*/\1 free clusters/p'))"
    for file in firstrun.sh user-data meta-data network-config; do
        if [[ -f "$2/$file" ]]; then
            mtools_run mcopy -o -i "$spec" "$2/$file" "::$file"
        fi
    done
    if [[ "$FLAVOUR" == firstrun ]]; then
        hook_cmdline "$1"
    fi
}
