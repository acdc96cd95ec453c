"""`hub backup` pointed at the live database while kiosks sync into a real `hub serve`.

Replacing the database a running hub has open lost 8,050 of 20,000 acknowledged presses in a
reproduction (issue 12). Every spelling of the live files is refused, and no press is lost.
"""

import subprocess
import time

import pytest

from tests.faults.figures import record, scale
from tests.faults.helpers import check_invariant, rows
from tests.support import wait_until
from tests.sync.processes import HUB, HubProcess, KioskProcess, _env

pytestmark = pytest.mark.slow
STORM = 1200  # presses a minute, the most --simulate allows


@pytest.fixture
def hub(tmp_path):
    hub = HubProcess(tmp_path)
    yield hub
    if hub.process is not None and hub.process.poll() is None:
        hub.stop()


@pytest.fixture
def kiosks(tmp_path, hub):
    started = [KioskProcess(tmp_path, f"kiosk-{n}", hub.url, hub.add_device(f"kiosk-{n}"),
                            sync_interval_s=0.3) for n in (1, 2)]
    yield started
    for kiosk in started:  # a failed test leaves no kiosk behind
        kiosk.kill()


def _spellings(hub):
    """(name, --db, DEST, working directory): the live files, as an operator might type them."""
    link = hub.dir / "current.db"
    link.symlink_to(hub.db)
    db, here = str(hub.db), hub.dir
    return [
        ("absolute path", db, db, None),
        ("relative path", "hub.db", "./hub.db", here),
        ("relative path through ..", db, f"../{here.name}/hub.db", here),
        ("symlink", db, str(link), None),
        ("its -wal", db, db + "-wal", None),
        ("its -shm", "hub.db", "hub.db-shm", here),
    ]


def _count(hub):
    return rows(hub.db, "SELECT count(*) FROM presses")[0][0]


def test_backup_onto_the_live_database_is_refused_while_kiosks_sync(hub, kiosks, tmp_path):
    """Round after round during a press storm, `hub backup` with DEST = the live database in
    each spelling exits 2 with one line and leaves the database alone; a backup into a
    directory still works; in the end every press is on the hub once."""
    hub.start()
    for kiosk in kiosks:
        kiosk.start(rate=STORM)
    spellings = _spellings(hub)
    inode = hub.db.stat().st_ino
    rounds = scale(2, 20)
    attempts = 0
    started = time.monotonic()
    try:
        for n in range(rounds):
            count = _count(hub)
            wait_until(lambda count=count: _count(hub) > count, timeout=30,
                       message="ingest under way")
            for name, db, dest, cwd in spellings:
                result = subprocess.run([HUB, "--db", db, "backup", dest], cwd=cwd, env=_env(),
                                        capture_output=True, text=True, timeout=60)
                attempts += 1
                assert result.returncode == 2, (name, result.returncode, result.stderr)
                assert result.stderr.count("\n") == 1 and "live database" in result.stderr, (
                    name, result.stderr)
                assert result.stdout == "" and "Traceback" not in result.stderr
                assert hub.db.stat().st_ino == inode, f"{name}: the live database was replaced"
            kept = subprocess.run([HUB, "--db", str(hub.db), "backup", str(tmp_path / "backups"),
                                   "--keep", "2"], env=_env(), capture_output=True, text=True,
                                  timeout=60)
            assert kept.returncode == 0, (n, kept.stderr)  # a real backup still works
    finally:
        for kiosk in kiosks:
            kiosk.stop()
    assert not list(hub.dir.glob("*.partial"))
    figures = check_invariant(hub, kiosks, tmp_path)
    assert "Traceback" not in hub.log.read_text()
    record("hub", "`hub backup` onto the live database (6 spellings) while 2 kiosks sync",
           faults=attempts, seconds=round(time.monotonic() - started, 1), **figures,
           note=f"{attempts} refused with exit 2, {rounds} real backups beside them")
