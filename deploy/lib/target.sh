# shellcheck shell=bash
# shellcheck disable=SC2034  # TARGET_KIND, TARGET_DESCRIPTION are read by deploy/flash
# The write target of deploy/flash: a removable block device, checked before anything is
# written, or a plain file. Block-device facts come from lsblk through one seam: $DEPLOY_LSBLK
# names a command that prints what `lsblk --json -b -o NAME,PATH,SIZE,RM,TRAN,MODEL,MOUNTPOINTS,TYPE
# TARGET` prints (tests point it at recorded output).

LSBLK_COLUMNS=NAME,PATH,SIZE,RM,TRAN,MODEL,MOUNTPOINTS,TYPE

# target_kind TARGET: "block" (a block device, anything under /dev/, or whatever the lsblk
# seam describes) or "file"; dies on anything else (a directory, a FIFO ...).
target_kind() {
    if [[ -n ${DEPLOY_LSBLK:-} || -b $1 || $1 == /dev/* ]]; then
        echo block
    elif [[ ! -e $1 || -f $1 ]]; then
        echo file
    else
        die "$1 is neither a block device nor a plain file"
    fi
}

lsblk_json() {
    if [[ -n ${DEPLOY_LSBLK:-} ]]; then
        # Word splitting on purpose: the seam may be "cat recorded.json" or a script.
        # shellcheck disable=SC2086
        ${DEPLOY_LSBLK} "$1"
    else
        lsblk --json -b -o "$LSBLK_COLUMNS" "$1"
    fi
}

# device_facts TARGET: "KEY=VALUE" lines (size, model, removable, tran, mounts, system) from
# lsblk's JSON. A device that holds / /boot /boot/firmware /usr /var or swap, itself or in a
# partition, holder (LVM, LUKS) or child, "holds the running system".
device_facts() {
    lsblk_json "$1" | python3 -c '
import json, sys
system_mounts = {"/", "/boot", "/boot/firmware", "/boot/efi", "/usr", "/var", "/home", "[SWAP]"}
devices = json.load(sys.stdin)["blockdevices"]
if not devices:
    sys.exit("lsblk knows no such device")
disk = devices[0]
mounts, system = [], False
def walk(node):
    global system
    for m in node.get("mountpoints") or [node.get("mountpoint")]:
        if m:
            mounts.append(m)
            system = system or m in system_mounts
    for child in node.get("children") or []:
        walk(child)
walk(disk)
def clean(v):
    return " ".join(str(v).split()) if v not in (None, "") else "-"
rm = disk.get("rm")
print("size=%d" % int(disk.get("size") or 0))
print("model=" + clean(disk.get("model")))
print("type=" + clean(disk.get("type")))
print("removable=" + ("yes" if rm in (True, 1, "1", "true") else "no"))
print("tran=" + clean(disk.get("tran")))
print("mounts=" + (" ".join(mounts) or "-"))
print("system=" + ("yes" if system else "no"))
'
}

# check_device TARGET IMAGE_BYTES: dies with the reason if the device must not be written;
# prints a one-line description (model, size, transport) otherwise.
check_device() {
    [[ -n ${DEPLOY_LSBLK:-} || -b $1 ]] || die "$1: no such block device (see lsblk)"
    local target=$1 image_bytes=$2 facts size="" model="" type="" removable="" tran="" mounts="" system=""
    facts=$(device_facts "$target") || die "$target: cannot read its facts with lsblk"
    while IFS='=' read -r key value; do
        case $key in
            size) size=$value ;; model) model=$value ;; type) type=$value ;;
            removable) removable=$value ;; tran) tran=$value ;; mounts) mounts=$value ;;
            system) system=$value ;;
        esac
    done <<<"$facts"
    [[ $type == disk ]] || die "refusing $target: it is a $type, not a whole disk (give e.g. /dev/sdb, not /dev/sdb1)"
    [[ $system == no ]] || die "refusing $target: it holds the running system (mounted at $mounts)"
    [[ $mounts == - ]] || die "refusing $target: it is mounted at $mounts (unmount it first: udisksctl unmount -b PARTITION)"
    if [[ $removable != yes && $tran != usb && $tran != mmc ]]; then
        die "refusing $target: not a removable disk (RM=0, transport $tran): $model"
    fi
    ((size >= image_bytes)) || die "refusing $target: $(human_bytes "$size") is smaller than the image ($(human_bytes "$image_bytes"))"
    printf '%s (%s, %s, %s)\n' "$target" "$model" "$(human_bytes "$size")" "$([[ $tran == - ]] && echo removable || echo "$tran")"
}

# check_target TARGET IMAGE_BYTES: sets TARGET_KIND (block|file) and TARGET_DESCRIPTION, or
# dies before anything is written.
check_target() {
    TARGET_KIND=$(target_kind "$1")
    if [[ $TARGET_KIND == block ]]; then
        TARGET_DESCRIPTION=$(check_device "$1" "$2") || exit 1
    else
        [[ -d $(dirname -- "$1") ]] || die "$1: its directory does not exist"
        TARGET_DESCRIPTION="$1 (a plain file)"
    fi
}

# confirm_target WHAT: the technician types "yes" or nothing is written.
confirm_target() {
    local answer=""
    note "About to overwrite $1."
    note "Everything on it will be lost."
    printf 'Type yes to write: ' >&2
    read -r answer || true
    [[ $answer == yes ]] || die "nothing written (the answer was not yes)"
}
