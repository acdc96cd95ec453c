"""A Raspberry Pi stand-in that deploy/provision reaches over a real sshd on 127.0.0.1.

Each FakePi is a private mount namespace of this machine (`unshare --mount`, so it needs
root) whose /etc, /opt, /usr/local, /var, /home and /root are overlays on the real ones: useradd,
sudo, visudo, chown, install-kiosk.sh and /usr/local/bin/kiosk run for real inside it, and
nothing of it reaches this machine. sshd listens on a free port of 127.0.0.1 with a
throwaway host key, for three accounts: `tech` (sudo without a password, like the account
flash creates), `fieldtech` and `visitor` (no sudo at all).

Only what has no place off a Pi is a stub, in /usr/local/sbin (before /usr/bin on sudo's
secure_path and on sshd's PATH): systemctl (no systemd here; logs to /var/log/stub.log) and
python3 for `-m venv` and `-c "import lgpio"` (python3-lgpio is Pi OS's; the file
/etc/stub-no-lgpio makes the import fail). The venv's pip "installs" the kiosk_hub wheel of
the wheelhouse by writing its dist-info, and the venv's `kiosk` is either this checkout's
real kiosk (kiosk="real") or a script (kiosk="stub") whose `status --json` says the kiosk
synced now, or failed to when the installed wheel's bytes say BROKEN.
"""

import os
import shlex
import socket
import subprocess
import sys
from pathlib import Path

OVERLAID = ("etc", "opt", "usr/local", "var", "home", "root")
USERS = ("tech", "fieldtech", "visitor")

SYSTEMCTL = r"""#!/bin/bash
echo "systemctl $*" >>/var/log/stub.log
[ "${1#--root=}" != "$1" ] && shift
case $1 in
    enable) mkdir -p /etc/systemd/system/multi-user.target.wants
            ln -sf "/etc/systemd/system/$2" "/etc/systemd/system/multi-user.target.wants/$2" ;;
    is-active) exit 0 ;;
esac
exit 0
"""

PYTHON3 = r"""#!/bin/bash
if [ "$1 $2" = "-m venv" ]; then
    echo "python3 $*" >>/var/log/stub.log
    v="${!#}"
    mkdir -p "$v/bin"
    cp /usr/local/lib/fake-pi/venv-python "$v/bin/python"
    cp /usr/local/lib/fake-pi/kiosk "$v/bin/kiosk"
    chmod 755 "$v/bin/python" "$v/bin/kiosk"
    exit 0
fi
if [ "$1" = -c ] && [ "$2" = "import lgpio" ]; then
    [ ! -e /etc/stub-no-lgpio ]
    exit
fi
exec /usr/bin/python3 "$@"
"""

# The venv's python: `-m pip install ... --find-links DIR ... kiosk-hub` installs DIR's kiosk
# wheel: a dist-info named after it, the wheel's bytes kept as "the code".
VENV_PYTHON = r"""#!/bin/bash
echo "venv-python $*" >>/var/log/stub.log
venv=$(cd "$(dirname "$0")/.." && pwd)
links=""
while [ $# -gt 0 ]; do
    [ "$1" = --find-links ] && links=$2
    shift
done
wheel=$(ls "$links"/kiosk_hub-*.whl | head -n 1)
name=$(basename "$wheel")
version=${name#kiosk_hub-}; version=${version%%-*}
mkdir -p "$venv/lib/python3/site-packages/kiosk_hub-$version.dist-info"
cp "$wheel" "$venv/code"
"""

KIOSK_STUB = r"""#!/bin/bash
# A kiosk that syncs (or, BROKEN, fails to): what `kiosk status --json` shows a fleet upgrade.
venv=$(cd "$(dirname "$0")/.." && pwd)
config=/etc/kiosk/kiosk.toml
[ "$2" = --config ] && config=$3
device=$(sed -n 's/^device_id *= *"\(.*\)"/\1/p' "$config")
version=$(ls "$venv/lib/python3/site-packages" | sed -n 's/^kiosk_hub-\(.*\)\.dist-info$/\1/p')
now=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
case $1 in
    status)
        if grep -q BROKEN "$venv/code"; then
            error='"hub answered 500"'
        else
            error=null
        fi
        printf '{"device_id": "%s", "version": "%s", "recorded_total": 7, "queued": 0,'\
' "last_sync_at": "%s", "last_sync_error": %s, "clock_synced": true, "boot_id": "b"}\n' \
            "$device" "$version" "$now" "$error" ;;
    selftest) echo "config   OK   $config"; echo "hub      OK   stub" ;;
    --version) echo "kiosk, version $version" ;;
    *) echo "kiosk stub: $*" ;;
esac
"""

SETUP = r"""
set -euo pipefail
base=$1 port=$2
for d in {overlaid}; do
    layer=$base/overlay/${{d//\//_}}
    mkdir -p "$layer/upper" "$layer/work"
    mount -t overlay overlay -o "lowerdir=/$d,upperdir=$layer/upper,workdir=$layer/work" "/$d"
done
mkdir -p /usr/local/sbin /usr/local/lib/fake-pi /var/log /run/sshd
chmod o+x /root  # the kiosk user runs this checkout's Python, which may live under /root
cp "$base/stubs/systemctl" "$base/stubs/python3" /usr/local/sbin/
cp "$base/stubs/venv-python" "$base/stubs/kiosk" /usr/local/lib/fake-pi/
chmod 755 /usr/local/sbin/* /usr/local/lib/fake-pi/*
: >/var/log/stub.log
for user in {users}; do
    getent passwd "$user" >/dev/null && userdel -r "$user" 2>/dev/null
    useradd --create-home --shell /bin/bash "$user"
    usermod -p '*' "$user"   # no password, not locked: a key login works without PAM
    install -d -m 700 -o "$user" -g "$user" "/home/$user/.ssh"
    install -m 600 -o "$user" -g "$user" "$base/client_key.pub" "/home/$user/.ssh/authorized_keys"
done
echo 'tech ALL=(ALL) NOPASSWD: ALL' >/etc/sudoers.d/010_tech
chmod 440 /etc/sudoers.d/010_tech
cat >"$base/sshd_config" <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $base/host_key
PidFile none
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
PermitRootLogin no
LogLevel INFO
EOF
exec /usr/sbin/sshd -D -e -f "$base/sshd_config"
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakePi:
    """One Pi: `ssh` is the client command line (DEPLOY_SSH), `address(user)` its host."""

    def __init__(self, base: Path, repo: Path, kiosk="stub"):
        self.base = base
        base.mkdir(parents=True, exist_ok=True)
        stubs = base / "stubs"
        stubs.mkdir()
        kiosk_script = KIOSK_STUB if kiosk == "stub" else (
            f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -m kiosk \"$@\"\n")
        for name, text in (("systemctl", SYSTEMCTL), ("python3", PYTHON3),
                           ("venv-python", VENV_PYTHON), ("kiosk", kiosk_script)):
            (stubs / name).write_text(text)
        if kiosk == "real":
            # The kiosk user runs this checkout's code: it must find the package.
            (stubs / "kiosk").write_text(
                f"#!/bin/sh\nexport PYTHONPATH={shlex.quote(str(repo))}\n"
                f"exec {shlex.quote(sys.executable)} -m kiosk \"$@\"\n")
        for key in ("host_key", "client_key"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", key, "-f",
                            str(base / key)], check=True, timeout=30)
        self.port = free_port()
        self.known_hosts = base / "known_hosts"
        host_key = (base / "host_key.pub").read_text().split()
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {host_key[0]} {host_key[1]}\n")
        script = SETUP.format(overlaid=" ".join(OVERLAID), users=" ".join(USERS))
        self.process = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "bash", "-c", script, "setup",
             str(base), str(self.port)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True)
        log = []
        for line in self.process.stderr:  # sshd -e: its log on stderr, line by line
            log.append(line)
            if f"Server listening on 127.0.0.1 port {self.port}" in line:
                break
        else:
            raise RuntimeError("the fake Pi did not start:\n" + "".join(log))
        self.ssh = ["ssh", "-F", "none", "-p", str(self.port), "-i", str(base / "client_key"),
                    "-o", "IdentitiesOnly=yes", "-o", f"UserKnownHostsFile={self.known_hosts}",
                    "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
                    "-o", "LogLevel=ERROR"]

    def ssh_config(self, alias):
        """A Host block of an ssh_config(5) file: `ssh -F FILE tech@ALIAS` reaches this Pi."""
        return (f"Host {alias}\n  HostName 127.0.0.1\n  Port {self.port}\n"
                f"  IdentityFile {self.base / 'client_key'}\n  IdentitiesOnly yes\n"
                f"  UserKnownHostsFile {self.known_hosts}\n  StrictHostKeyChecking yes\n"
                "  BatchMode yes\n  LogLevel ERROR\n")

    def address(self, user="tech"):
        return f"{user}@127.0.0.1"

    def run(self, command, user="tech", timeout=60):
        """COMMAND (a shell line) as USER over ssh, as a technician types it."""
        return subprocess.run([*self.ssh, self.address(user), command], capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def as_root(self, *args, timeout=60):
        """ARGS as root inside the Pi (its mount namespace), not over ssh."""
        return subprocess.run(["nsenter", "--target", str(self.process.pid), "--mount", "--",
                               *args], capture_output=True, text=True, timeout=timeout)

    def read(self, path):
        """A file of the Pi, read as root."""
        result = self.as_root("cat", path)
        return result.stdout if result.returncode == 0 else None

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process.stderr.close()


def can_run():
    """Why a FakePi cannot start here, or None."""
    if os.geteuid() != 0:
        return "needs root (mount namespaces, useradd)"
    for tool in ("/usr/sbin/sshd", "/usr/bin/sudo", "/usr/bin/unshare", "/usr/bin/nsenter"):
        if not os.path.exists(tool):
            return f"{tool} is not installed"
    return None
