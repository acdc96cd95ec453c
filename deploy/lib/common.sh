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

# Under sudo (`sudo deploy/flash --batch ...`), ssh runs as the technician who typed it, with
# their ~/.ssh (keys, config, known_hosts) and their agent, not as root.
as_invoking_user() {  # COMMAND ARGS...
    if ((EUID == 0)) && [[ -n ${SUDO_USER:-} && $SUDO_USER != root ]]; then
        local program
        program=$(command -v "$1") || die "$1: command not found"
        sudo -u "$SUDO_USER" -- env ${SSH_AUTH_SOCK:+"SSH_AUTH_SOCK=$SSH_AUTH_SOCK"} \
            "$program" "${@:2}"
    else
        "$@"
    fi
}

# Files made under sudo for the technician to keep (progress, tokens, card images) belong to
# them, not to root.
give_to_invoking_user() {  # PATH...
    if ((EUID == 0)) && [[ -n ${SUDO_USER:-} && $SUDO_USER != root ]]; then
        chown -R -- "$SUDO_USER:" "$@" 2>/dev/null || true
    fi
}

# --ntp SERVER: a host name or an IP address.
check_ntp_server() {  # SERVER
    [[ $1 =~ ^[A-Za-z0-9]([A-Za-z0-9.:-]*[A-Za-z0-9])?$ ]] ||
        usage_error "--ntp: '$1' is not a host name or an IP address"
}

# The timesyncd drop-in install-kiosk.sh puts at /etc/systemd/timesyncd.conf.d/kiosk.conf.
write_timesyncd_conf() {  # FILE SERVER...
    local file=$1
    shift
    {
        echo "# Written by deploy/flash or deploy/provision --ntp: the site's time servers."
        echo "[Time]"
        echo "NTP=$*"
    } >"$file"
}

# --ca-file PEM: one or more PEM certificates (a private CA for the hub's HTTPS).
check_ca_file() {  # PEM
    readable_file --ca-file "$1"
    grep -q -- '-----BEGIN CERTIFICATE-----' "$1" ||
        usage_error "--ca-file $1 holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
    if command -v openssl >/dev/null 2>&1; then
        openssl x509 -noout -in "$1" 2>/dev/null ||
            usage_error "--ca-file $1: openssl cannot read its certificate"
    fi
}

# The config as installed: with --ca-file, `ca_file` (a top-level key, so before the first
# [table]) names where the install puts the CA. A ca_file without --ca-file would name a
# file the Pi does not have, and the daemon would stop on it.
installed_config() {  # CONFIG CA_FILE_GIVEN(yes|no) -> stdout
    local ca
    ca=$(toml_value "$1" ca_file)
    if [[ $2 == no ]]; then
        [[ -z $ca ]] || die "$1 sets ca_file = \"$ca\": give that CA with --ca-file PEM (installed as /etc/kiosk/ca.pem)"
        cat -- "$1"
        return
    fi
    awk -v line='ca_file = "/etc/kiosk/ca.pem"' '
        !done && /^[[:space:]]*ca_file[[:space:]]*=/ { print line; done = 1; next }
        !done && /^[[:space:]]*\[/ { print line; done = 1 }
        { print }
        END { if (!done) print line }' "$1"
}
