#!/usr/bin/env bash
# Installs (or upgrades) the kiosk on a Raspberry Pi: the kiosk user in group gpio, a venv at
# /opt/kiosk from a wheelhouse, /etc/kiosk/kiosk.toml and token, kiosk.service enabled.
# The one installer behind firstrun.sh (Bookworm), cloud-init runcmd (Trixie) and
# deploy/provision. Idempotent: a second run with the same files changes and restarts nothing
# and ends with "kiosk: unchanged".
#
# Every command comes from PATH. --root DIR installs into another root filesystem (an image
# being built): files under DIR, useradd --prefix, `systemctl --root`, nothing started.
# $KIOSK_ROOT is the test seam: files under it, but the commands act as on a live system, so
# a test runs this against a throwaway directory with stub systemctl, useradd, groupadd,
# usermod, chown, python3 and runuser that log their arguments.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: install-kiosk.sh --source DIR [--root DIR] [--upgrade] [--no-start] [--selftest]
                        [--admin USER ...]
       install-kiosk.sh --rollback [--selftest]

Installs the kiosk from DIR, which holds kiosk.toml, token, kiosk.service, kiosk-wrapper.sh
and wheelhouse/ (wheels of kiosk-hub and its dependencies; without wheelhouse/ pip uses the
network), and if given ca.pem (-> /etc/kiosk/ca.pem) and timesyncd.conf (->
/etc/systemd/timesyncd.conf.d/kiosk.conf). Without kiosk.toml and token in DIR, the
installed ones are kept (an upgrade of the code alone). `kiosk status` and `kiosk selftest` work for root and the members of group
kiosk-admin: /usr/local/bin/kiosk runs them as user kiosk (/etc/sudoers.d/kiosk-admin).

  --source DIR  the files to install
  --root DIR    install into the root filesystem at DIR (offline: enables, starts nothing)
  --upgrade     install the wheelhouse's kiosk even if another version is installed,
                then restart the service (the buffer in /var/lib/kiosk is kept); the
                install it replaces stays in /opt/kiosk.previous
  --rollback    swap /opt/kiosk and /opt/kiosk.previous (code and unit), restart; the
                buffer, config and token are kept; a second --rollback rolls forward
  --no-start    enable kiosk.service but do not (re)start it (first boot reboots anyway)
  --selftest    run `kiosk selftest` as user kiosk at the end
  --admin USER  add USER (a technician's login) to group kiosk-admin

Examples:
  sudo bash install-kiosk.sh --source /boot/firmware/kiosk --no-start
  sudo bash install-kiosk.sh --source /tmp/kiosk-bundle --upgrade --selftest --admin tech
USAGE
}

say() { printf '%s\n' "$*"; }
die() { printf 'install-kiosk: %s\n' "$*" >&2; exit 1; }

root=${KIOSK_ROOT:-/}
offline=no
source_dir=""
upgrade=no
rollback=no
start=yes
selftest=no
admins=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --source) [[ $# -ge 2 ]] || die "--source needs a value"; source_dir=$2; shift 2 ;;
        --root) [[ $# -ge 2 ]] || die "--root needs a value"; root=$2; offline=yes; start=no; shift 2 ;;
        --upgrade) upgrade=yes; shift ;;
        --rollback) rollback=yes; shift ;;
        --no-start) start=no; shift ;;
        --selftest) selftest=yes; shift ;;
        --admin) [[ $# -ge 2 ]] || die "--admin needs a value"; admins+=("$2"); shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done
[[ -n $source_dir || $rollback == yes ]] || die "--source DIR is required (see --help)"
for admin in "${admins[@]}"; do
    [[ $admin =~ ^[a-z_][a-z0-9_-]{0,31}$ ]] || die "--admin: '$admin' is not a user name"
done
# R: the root as a prefix ("" for /), so "$R/etc/kiosk" is /etc/kiosk on a real system.
R=${root%/}
venv=/opt/kiosk
unit=/etc/systemd/system/kiosk.service

run_selftest() {
    [[ $selftest == yes && $offline == no ]] || return 0
    say "--- kiosk selftest"
    # What a technician's `kiosk selftest` runs: the wrapper, as user kiosk. A failing check
    # is reported, not fatal: the install itself worked.
    local selftest_cmd=(/usr/local/bin/kiosk selftest)
    if [[ -n $R ]]; then  # $KIOSK_ROOT (tests): the wrapper's paths are absolute
        selftest_cmd=(runuser -u kiosk -- "$R$venv/bin/kiosk" selftest --config "$R/etc/kiosk/kiosk.toml")
    fi
    if "${selftest_cmd[@]}"; then
        say "kiosk selftest: ok"
    else
        say "kiosk selftest: FAILED (exit $?): see the lines above"
    fi
}

if [[ $rollback == yes ]]; then
    [[ -d $R$venv.previous ]] || die "no previous install in $venv.previous: nothing to roll back to"
    [[ -d $R$venv ]] || die "no install in $venv"
    rm -rf "$R$venv.rollback"
    mv -- "$R$venv" "$R$venv.rollback"
    mv -- "$R$venv.previous" "$R$venv"
    mv -- "$R$venv.rollback" "$R$venv.previous"
    # The unit the restored install came with (an older install has no copy: kept as is).
    if [[ -f $R$venv/kiosk.service ]] && ! cmp -s "$R$venv/kiosk.service" "$R$unit"; then
        cp -- "$R$venv/kiosk.service" "$R$unit.new"
        chmod 0644 "$R$unit.new"
        mv -f -- "$R$unit.new" "$R$unit"
        [[ $offline == yes ]] || systemctl daemon-reload
    fi
    [[ $start == no ]] || systemctl restart kiosk.service
    say "kiosk: rolled back to the previous install; the one it replaced is in $venv.previous"
    run_selftest
    exit 0
fi

for f in kiosk.service kiosk-wrapper.sh; do
    [[ -f $source_dir/$f ]] || die "$source_dir/$f is missing"
done
for f in kiosk.toml token; do  # or kept as installed
    [[ -f $source_dir/$f || -f $R/etc/kiosk/$f ]] || die "$source_dir/$f is missing"
done

# gpiozero reads the pins through lgpio, which is Raspberry Pi OS's python3-lgpio (a C
# extension, no aarch64 wheel on PyPI; the venv sees it through --system-site-packages).
# Without it the daemon would crash-loop: stop here, before anything is changed. An image
# being built (--root) is not this system's Python: not checked.
if [[ $offline == no ]] && ! python3 -c "import lgpio" 2>/dev/null; then
    die "python3-lgpio is missing (install it: sudo apt install python3-lgpio); nothing installed"
fi

changed=()

has_line() { [[ -f $R$2 ]] && grep -q -- "$1" "$R$2"; }
as_root_cmd() {
    # useradd & co. edit the files under --root when given --prefix (shadow-utils >= 4.9).
    if [[ -n $R ]]; then "$1" --prefix "$R" "${@:2}"; else "$@"; fi
}

# --- users: kiosk (system user, no login) in the gpio group that owns /dev/gpiochip* ---
if ! has_line '^gpio:' /etc/group; then
    as_root_cmd groupadd --system gpio
    changed+=("group gpio")
fi
if ! has_line '^kiosk:' /etc/passwd; then
    as_root_cmd useradd --system --user-group --groups gpio --home-dir /var/lib/kiosk \
        --no-create-home --shell /usr/sbin/nologin --comment "feedback kiosk" kiosk
    changed+=("user kiosk")
elif ! grep -Eq '^gpio:[^:]*:[^:]*:(.*,)?kiosk(,|$)' "$R/etc/group"; then
    as_root_cmd usermod --append --groups gpio kiosk
    changed+=("kiosk in group gpio")
fi
# kiosk-admin: the technicians who may run `kiosk status` and `kiosk selftest` as user kiosk.
if ! has_line '^kiosk-admin:' /etc/group; then
    as_root_cmd groupadd --system kiosk-admin
    changed+=("group kiosk-admin")
fi
for admin in "${admins[@]}"; do
    if ! has_line "^$admin:" /etc/passwd; then
        say "no user $admin here: not added to group kiosk-admin"
    elif ! grep -Eq "^kiosk-admin:[^:]*:[^:]*:(.*,)?$admin(,|\$)" "$R/etc/group"; then
        as_root_cmd usermod --append --groups kiosk-admin "$admin"
        changed+=("$admin in group kiosk-admin")
    fi
done

# --- the venv and the kiosk package ---
wheelhouse=$source_dir/wheelhouse
wheels_digest=network
if [[ -d $wheelhouse ]] && compgen -G "$wheelhouse/*.whl" >/dev/null; then
    # The wheel names carry the versions: the same names are the same install (a wheel
    # rebuilt from the same version is not reproducible byte for byte, so no content hash).
    wheels_digest=$(cd "$wheelhouse" && printf '%s\n' *.whl | LC_ALL=C sort | sha256sum)
    wheels_digest=${wheels_digest%% *}
    pip_source=(--no-index --find-links "$wheelhouse")
else
    say "no wheelhouse in $source_dir: pip uses the network"
    pip_source=()
fi
installed_digest=""
[[ -f $R$venv/.wheelhouse.sha256 ]] && installed_digest=$(<"$R$venv/.wheelhouse.sha256")

# pip can run from its own wheel: then the venv needs no ensurepip (package python3-venv).
pip_wheel=""
if ((${#pip_source[@]})); then
    pip_wheel=$(find "$wheelhouse" -maxdepth 1 -name 'pip-*.whl' | LC_ALL=C sort | tail -n 1)
fi
if [[ -z $installed_digest || ($upgrade == yes && $installed_digest != "$wheels_digest") ]]; then
    # A new venv for every install, filled with --ignore-installed: every dependency comes
    # from the wheelhouse, none from the system's dist-packages that --system-site-packages
    # makes visible (for python3-lgpio, gpiozero's pin driver: a C extension with no aarch64
    # wheel on PyPI). So an apt upgrade cannot swap the kiosk's libraries, and an upgrade
    # leaves no files of the old versions. The previous venv waits beside the new one: it
    # comes back if the install fails, and stays for --rollback if it works.
    rm -rf "$R$venv.previous"
    [[ -e $R$venv ]] && mv -- "$R$venv" "$R$venv.previous"
    mkdir -p "$(dirname "$R$venv")"
    if [[ -n $pip_wheel ]]; then
        python3 -m venv --system-site-packages --without-pip "$R$venv"
    else
        python3 -m venv --system-site-packages "$R$venv"
    fi
    pip=("$R$venv/bin/python" -m pip)
    if [[ -n $pip_wheel ]]; then
        pip=("$R$venv/bin/python" "$pip_wheel/pip")
    fi
    if ! "${pip[@]}" install --quiet --disable-pip-version-check --no-cache-dir --upgrade \
        --ignore-installed "${pip_source[@]}" kiosk-hub ${pip_wheel:+pip}; then
        rm -rf "$R$venv"
        [[ -e $R$venv.previous ]] && mv -- "$R$venv.previous" "$R$venv"
        die "pip could not install kiosk-hub into $venv; the previous install (if any) is kept"
    fi
    printf '%s\n' "$wheels_digest" >"$R$venv/.wheelhouse.sha256"
    changed+=("venv $venv" "kiosk package")
elif [[ $installed_digest != "$wheels_digest" ]]; then
    say "the wheelhouse differs from the installed kiosk: run with --upgrade to install it"
fi

# --- config and token: 0600, owned by kiosk; /etc/kiosk readable by group kiosk only ---
install_secret() {
    local from=$1 to=$2
    if [[ -f $R$to ]] && cmp -s "$from" "$R$to"; then
        return 0
    fi
    # Written under umask 077 and moved into place: never readable by others, never half-written.
    (umask 077 && cp -- "$from" "$R$to.new")
    chmod 0600 "$R$to.new"
    chown kiosk:kiosk "$R$to.new"
    mv -f -- "$R$to.new" "$R$to"
    changed+=("$to")
}
if [[ ! -d $R/etc/kiosk ]]; then
    mkdir -p "$R/etc/kiosk"
    chmod 0750 "$R/etc/kiosk"
    chown root:kiosk "$R/etc/kiosk"
fi
[[ ! -f $source_dir/kiosk.toml ]] || install_secret "$source_dir/kiosk.toml" /etc/kiosk/kiosk.toml
[[ ! -f $source_dir/token ]] || install_secret "$source_dir/token" /etc/kiosk/token

# --- the technician's diagnostics: /usr/local/bin/kiosk and the sudo rule behind it ---
install_file() {  # FROM TO MODE: replaced only when it differs, never half-written
    local from=$1 to=$2 mode=$3
    if [[ -f $R$to ]] && cmp -s "$from" "$R$to"; then
        return 0
    fi
    mkdir -p "$(dirname "$R$to")"
    cp -- "$from" "$R$to.new"
    chmod "$mode" "$R$to.new"
    mv -f -- "$R$to.new" "$R$to"
    changed+=("$to")
}
install_file "$source_dir/kiosk-wrapper.sh" /usr/local/bin/kiosk 0755

# --- time and trust on closed networks (deploy's --ntp and --ca-file) ---
# Not secrets: readable by all, so the kiosk user reads the CA through /etc/kiosk (0750).
[[ -f $source_dir/ca.pem ]] && install_file "$source_dir/ca.pem" /etc/kiosk/ca.pem 0644
timesyncd_changed=no
if [[ -f $source_dir/timesyncd.conf ]] &&
    ! cmp -s "$source_dir/timesyncd.conf" "$R/etc/systemd/timesyncd.conf.d/kiosk.conf"; then
    install_file "$source_dir/timesyncd.conf" /etc/systemd/timesyncd.conf.d/kiosk.conf 0644
    timesyncd_changed=yes
fi
sudoers=$(mktemp)
trap 'rm -f "$sudoers"' EXIT
cat >"$sudoers" <<'SUDOERS'
# Installed by install-kiosk.sh: members of kiosk-admin run the kiosk's diagnostics as user
# kiosk (these command lines exactly; /usr/local/bin/kiosk adds --config).
%kiosk-admin ALL=(kiosk) NOPASSWD: /usr/local/bin/kiosk status, /usr/local/bin/kiosk status --json, /usr/local/bin/kiosk selftest
SUDOERS
if command -v visudo >/dev/null 2>&1; then
    visudo -cqf "$sudoers" >/dev/null || die "the sudo rule for kiosk-admin does not pass visudo -c"
fi
install_file "$sudoers" /etc/sudoers.d/kiosk-admin 0440

# --- the unit ---
unit_changed=no
if ! { [[ -f $R$unit ]] && cmp -s "$source_dir/kiosk.service" "$R$unit"; }; then
    mkdir -p "$R/etc/systemd/system"
    cp -- "$source_dir/kiosk.service" "$R$unit.new"
    chmod 0644 "$R$unit.new"
    mv -f -- "$R$unit.new" "$R$unit"
    unit_changed=yes
    changed+=("$unit")
fi
if [[ $unit_changed == yes && $offline == no ]]; then
    systemctl daemon-reload
fi
# The unit this install runs with, kept in the venv: --rollback restores it with the code.
if [[ -d $R$venv ]] && ! cmp -s "$R$unit" "$R$venv/kiosk.service"; then
    cp -- "$R$unit" "$R$venv/kiosk.service"
fi
wants=$R/etc/systemd/system/multi-user.target.wants/kiosk.service
# -L too: the link is absolute, so under a --root other than / it points outside.
if [[ ! -e $wants && ! -L $wants ]]; then
    if [[ $offline == yes ]]; then
        systemctl --root="$R" enable kiosk.service
    else
        systemctl enable kiosk.service
    fi
    changed+=("kiosk.service enabled")
fi

if [[ $timesyncd_changed == yes && $offline == no ]]; then
    systemctl try-restart systemd-timesyncd.service ||
        say "could not restart systemd-timesyncd: the new time servers count from the next boot"
fi

if ((${#changed[@]})); then
    for what in "${changed[@]}"; do
        say "changed: $what"
    done
    if [[ $start == yes ]]; then
        systemctl restart kiosk.service
        say "kiosk: changed, kiosk.service restarted"
    else
        say "kiosk: changed, kiosk.service starts at the next boot"
    fi
else
    say "kiosk: unchanged"
fi

run_selftest
