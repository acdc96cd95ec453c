# shellcheck shell=bash
# Shared by deploy/flash and deploy/provision: messages, checks, temporary files.

# The one-line error a technician sees, then exit status 2 (usage) or 1 (anything else).
die() {
    printf '%s: error: %s\n' "${PROG:-deploy}" "$1" >&2
    exit "${2:-1}"
}

usage_error() {
    printf '%s: error: %s (see %s --help)\n' "${PROG:-deploy}" "$1" "${PROG:-deploy}" >&2
    exit 2
}

note() {
    printf '%s\n' "$*" >&2
}

require_commands() {
    local cmd missing=()
    for cmd in "$@"; do
        command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd")
    done
    if ((${#missing[@]})); then
        die "missing commands: ${missing[*]} (Debian/Ubuntu: apt install pv mtools dosfstools fdisk e2fsprogs xz-utils python3-pip openssh-client)"
    fi
}

# An option's value must follow it: `--config` at the end of the line is a usage error.
need_value() {
    [[ $# -ge 2 && -n "$2" ]] || usage_error "$1 needs a value"
}

readable_file() {  # OPTION PATH
    [[ -f "$2" && -r "$2" ]] || usage_error "$1: cannot read file '$2'"
}

# 1.9 GiB, 412.0 MiB, 512 B
human_bytes() {
    awk -v b="$1" 'BEGIN {
        split("B KiB MiB GiB TiB", u, " "); i = 1
        while (b >= 1024 && i < 5) { b /= 1024; i++ }
        if (i == 1) printf "%d %s", b, u[i]; else printf "%.1f %s", b, u[i]
    }'
}

# A valid hostname label: what `hostnamectl` and cloud-init accept without changing it.
valid_hostname() {
    [[ "$1" =~ ^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$ ]]
}

# One value of a flat TOML file (top-level `key = "value"` or `key = 42`), empty if absent.
# Enough for the checks deploy makes; the kiosk itself parses TOML properly.
toml_value() {  # FILE KEY
    local line
    line=$(sed -n "1,/^\[/{s/^[[:space:]]*$2[[:space:]]*=[[:space:]]*//p}" "$1" | head -n 1)
    line=${line%%#*}
    line=${line%"${line##*[![:space:]]}"}
    line=${line#\"}
    line=${line%\"}
    printf '%s' "$line"
}

# The config must put the token and the buffer where install-kiosk.sh and kiosk.service do.
check_kiosk_config() {  # FILE
    local token_file data_dir
    [[ -n "$(toml_value "$1" device_id)" ]] || die "$1: no device_id"
    token_file=$(toml_value "$1" token_file)
    [[ -z "$token_file" || "$token_file" == /etc/kiosk/token ]] ||
        die "$1: token_file must be /etc/kiosk/token (where the install puts the token), not $token_file"
    [[ -z "$(toml_value "$1" token)" ]] ||
        die "$1: has an inline token; give it with --token-file instead"
    data_dir=$(toml_value "$1" data_dir)
    [[ -z "$data_dir" || "$data_dir" == /var/lib/kiosk ]] ||
        die "$1: data_dir must be /var/lib/kiosk (kiosk.service's StateDirectory), not $data_dir"
}

check_token_file() {  # FILE
    local token
    token=$(tr -d '\r\n' <"$1")
    [[ -n "$token" ]] || die "$1: the token file is empty"
    [[ "$token" =~ ^[[:graph:]]+$ ]] || die "$1: the token contains spaces or control characters"
}

# A scratch directory removed on exit, whatever happens.
make_workdir() {
    WORKDIR=$(mktemp -d "${TMPDIR:-/tmp}/kiosk-deploy.XXXXXX")
    trap 'cleanup_workdir' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

cleanup_workdir() {
    local pid
    for pid in $(jobs -p); do kill "$pid" 2>/dev/null || true; done
    [[ -n "${WORKDIR:-}" ]] && rm -rf "$WORKDIR"
}
