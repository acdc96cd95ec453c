"""Synthetic Raspberry Pi OS-like disk images: MBR, FAT32 "bootfs" with cmdline.txt,
config.txt and kernel8.img, ext4 "rootfs" with /etc/os-release. Partitions are built as
separate files (mkfs.vfat -C, mkfs.ext4 -d) and copied in at sfdisk's offsets."""

import os
import subprocess
from pathlib import Path

SECTOR = 512
BOOT_START, BOOT_SECTORS = 8192, 80 * 2048      # 40 MiB: enough clusters for FAT32
ROOT_START, ROOT_SECTORS = BOOT_START + BOOT_SECTORS, 8 * 2048
CMDLINE = ("console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02 rootfstype=ext4"
           " fsck.repair=yes rootwait quiet\n")
CONFIG_TXT = "# Pi OS\narm_64bit=1\ndtparam=audio=on\n"
MTOOLS_ENV = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}


def run(*args, **kwargs):
    return subprocess.run(args, check=True, capture_output=True, timeout=60, **kwargs)


def build_image(directory: Path, codename: str) -> Path:
    """A small Pi OS-like image of Debian *codename*; returns its path."""
    directory.mkdir(parents=True, exist_ok=True)
    boot_files = directory / "boot-files"
    boot_files.mkdir()
    (boot_files / "cmdline.txt").write_text(CMDLINE)
    (boot_files / "config.txt").write_text(CONFIG_TXT)
    (boot_files / "kernel8.img").write_bytes(os.urandom(300_000))
    boot = directory / "boot.fat"
    run("mkfs.vfat", "-F", "32", "-s", "1", "-n", "BOOTFS", "-C", str(boot),
        str(BOOT_SECTORS * SECTOR // 1024))
    for name in ("cmdline.txt", "config.txt", "kernel8.img"):
        run("mcopy", "-i", str(boot), str(boot_files / name), "::" + name, env=MTOOLS_ENV)

    tree = directory / "root-tree"
    (tree / "etc").mkdir(parents=True)
    (tree / "usr/lib").mkdir(parents=True)
    (tree / "usr/lib/os-release").write_text(
        f'PRETTY_NAME="Debian GNU/Linux"\nID=debian\nVERSION_CODENAME={codename}\n')
    # As on Pi OS: /etc/os-release is a relative symlink.
    (tree / "etc/os-release").symlink_to("../usr/lib/os-release")
    (tree / "etc/hostname").write_text("raspberrypi\n")
    if codename != "bookworm":
        # Pi OS Trixie ships cloud-init (Bookworm does not).
        (tree / "usr/bin").mkdir(parents=True)
        (tree / "usr/bin/cloud-init").write_text("#!/usr/bin/python3\n")
        (tree / "usr/bin/cloud-init").chmod(0o755)
    root = directory / "root.ext4"
    run("mkfs.ext4", "-q", "-F", "-L", "rootfs", "-d", str(tree), str(root),
        f"{ROOT_SECTORS * SECTOR // 1024}k")

    image = directory / f"raspios-{codename}-arm64-lite.img"
    with open(image, "wb") as f:
        f.truncate((ROOT_START + ROOT_SECTORS) * SECTOR)
    layout = (f"label: dos\nstart={BOOT_START}, size={BOOT_SECTORS}, type=c\n"
              f"start={ROOT_START}, size={ROOT_SECTORS}, type=83\n")
    run("sfdisk", "-q", str(image), input=layout.encode())
    for part, start in ((boot, BOOT_START), (root, ROOT_START)):
        run("dd", f"if={part}", f"of={image}", f"bs={SECTOR}", f"seek={start}",
            "conv=notrunc", "status=none")
    return image


def xz(image: Path) -> Path:
    run("xz", "-k", "-0", "-T1", str(image))
    return image.with_name(image.name + ".xz")


def fat(image: Path) -> str:
    return f"{image}@@{BOOT_START * SECTOR}"


def fat_read(image: Path, name: str) -> bytes:
    return run("mtype", "-i", fat(image), "::" + name, env=MTOOLS_ENV).stdout


def fat_list(image: Path, directory: str = "") -> list[str]:
    out = run("mdir", "-b", "-i", fat(image), "::" + directory, env=MTOOLS_ENV).stdout.decode()
    return sorted(Path(line.strip()).name for line in out.splitlines() if line.strip())


def fat_exists(image: Path, name: str) -> bool:
    return subprocess.run(["mdir", "-i", fat(image), "::" + name], env=MTOOLS_ENV,
                          capture_output=True, timeout=60).returncode == 0


def root_bytes(image: Path) -> bytes:
    with open(image, "rb") as f:
        f.seek(ROOT_START * SECTOR)
        return f.read(ROOT_SECTORS * SECTOR)
