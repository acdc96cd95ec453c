# shellcheck shell=bash
# The image side of deploy/flash: its size, streaming it onto the target with a progress bar
# while hashing, and reading back to verify. The partitions themselves: bootfs.sh.

# image_size IMAGE: the uncompressed size (.img.xz: from the xz index, nothing decompressed).
image_size() {
    local totals
    case $1 in
        *.xz)
            totals=$(xz --robot --list -- "$1" | awk -F'\t' '$1 == "totals" { print $5 }') ||
                die "$1: not a readable .xz file"
            [[ $totals =~ ^[0-9]+$ ]] || die "$1: xz cannot tell its uncompressed size"
            echo "$totals"
            ;;
        *) stat -c %s -- "$1" ;;
    esac
}

decompress() {
    case $1 in
        *.xz) xz -dc -- "$1" ;;
        *) cat -- "$1" ;;
    esac
}

# write_image IMAGE TARGET KIND BYTES: streams IMAGE onto TARGET (never unpacked to disk),
# shows progress, flushes; prints the SHA-256 of the bytes written, computed on the way.
write_image() {
    local image=$1 target=$2 kind=$3 bytes=$4 work hash_pid digest
    local dd_opts=(bs=4M iflag=fullblock conv=fsync)
    [[ $kind == block ]] && dd_opts+=(oflag=direct)
    work=$(mktemp -d "${TMPDIR:-/tmp}/kiosk-flash.XXXXXX")
    mkfifo "$work/tap"
    sha256sum <"$work/tap" >"$work/sum" &
    hash_pid=$!
    local status=0
    if [[ -t 2 ]]; then
        # pv knows the total, so it shows a bar with bytes, rate and ETA.
        decompress "$image" | tee "$work/tap" | pv -p -t -e -r -b -s "$bytes" |
            dd of="$target" "${dd_opts[@]}" status=none || status=$?
    else
        # Not a terminal (a log, a batch run under tee): a line every few seconds instead,
        # all of them out before the next step says anything.
        local progress_pid
        mkfifo "$work/progress"
        tr '\r' '\n' <"$work/progress" | sed -u '/^[[:space:]]*$/d; s/^/  /' >&2 &
        progress_pid=$!
        decompress "$image" | tee "$work/tap" |
            pv -f -i "${DEPLOY_PROGRESS_INTERVAL:-5}" -s "$bytes" \
                -F "written %b of $(human_bytes "$bytes") %r %e" 2>"$work/progress" |
            dd of="$target" "${dd_opts[@]}" status=none || status=$?
        wait "$progress_pid" || true
    fi
    wait "$hash_pid" || true
    if ((status != 0)); then
        rm -rf "$work"
        die "writing to $target failed (exit $status): a bad card or reader, or a damaged image?"
    fi
    sync
    digest=$(<"$work/sum")
    rm -rf "$work"
    printf '%s\n' "${digest%% *}"
}

# read_back_hash TARGET KIND BYTES: SHA-256 of the first BYTES of TARGET, read past the page
# cache on a device so it is the card that answers.
read_back_hash() {
    local target=$1 kind=$2 bytes=$3 digest
    local iflag=count_bytes
    [[ $kind == block ]] && iflag+=",direct"
    digest=$(dd if="$target" bs=4M count="$bytes" iflag="$iflag" status=none | sha256sum)
    printf '%s\n' "${digest%% *}"
}
