"""Day-two operations on real processes (`kiosk run --simulate`, `hub serve`, loopback):
a captive portal between kiosk and hub, a replaced SD card (and the old one back), a hub
restored from a backup while kiosks press. Each lost presses silently before; each ends with
every press on the hub once.

Reduced in `make test`; full sizes in `make faults` (FAULTS_FULL=1).
"""

import shutil
import time

import pytest

from tests.faultproxy import FaultProxy
from tests.faults.figures import record, scale
from tests.faults.helpers import (
    check_cards,
    check_invariant,
    drain,
    hub_seqs,
    rows,
    track_kiosk,
)
from tests.support import wait_until
from tests.sync.processes import KioskProcess

pytestmark = pytest.mark.slow
STORM = 1200  # presses a minute, the most --simulate allows

def _kiosk(directory, device_id, url, token):
    return track_kiosk(KioskProcess(directory, device_id, url, token, sync_interval_s=0.3))


def _start(kiosk, rate=STORM):
    """Start *kiosk* and wait until it is up (its buffer exists: kiosk status can read it)."""
    seen = kiosk.log.stat().st_size if kiosk.log.exists() else 0
    kiosk.start(rate)
    wait_until(lambda: " ready: " in kiosk.log.read_text()[seen:], timeout=30,
               message="the kiosk to start")


def _sync_error(kiosk):
    return kiosk.status()["last_sync_error"] or ""


def test_a_captive_portal_between_kiosk_and_hub_loses_nothing_and_says_so(hub, tmp_path):
    """The Wi-Fi's portal answers in the hub's place, now with its 200 login page, now with a
    302 to it: nothing is marked synced, `kiosk status` and the log name it, and once the
    portal lets the kiosk through every press arrives once."""
    hub.start()
    started = time.monotonic()
    episodes = scale(4, 30)
    with FaultProxy(hub.port) as proxy:
        kiosk = _kiosk(tmp_path, "kiosk-portal", proxy.url, hub.add_device("kiosk-portal"))
        _start(kiosk)
        for episode in range(episodes):
            mode = ("portal", "redirect")[episode % 2]
            proxy.set(mode)
            wait_until(lambda: "captive portal?" in _sync_error(kiosk), timeout=30,
                       message=f"kiosk status to name the {mode}")
            proxy.set("pass")
            wait_until(lambda: not _sync_error(kiosk), timeout=60,
                       message="the kiosk to sync again through the portal")
        assert kiosk.stop() == 0
        log = kiosk.log.read_text()
        assert "hub answered 200 text/html: not the hub? captive portal?" in log
        assert "hub answered 302 redirect to http://portal.example/login" in log
        figures = check_invariant(hub, [kiosk], tmp_path)
        answered = proxy.counts["portal"] + proxy.counts["redirect"]
    assert answered >= episodes
    record("sync", "captive portal (200 HTML page, 302) between kiosk and hub",
           faults=answered, seconds=time.monotonic() - started,
           note=f"{episodes} portal episodes, each named by kiosk status", **figures)


def test_a_replaced_card_and_the_old_card_back_lose_nothing(hub, tmp_path):
    """A card dies with presses unsent; a new card of the same device (same id, same token,
    numbering from 1 again) is renumbered above the hub's highest seq; then the old card comes
    back and its unsent presses are renumbered too. Every press of every card arrives once."""
    hub.start()
    started = time.monotonic()
    token = hub.add_device("kiosk-1")
    swaps = scale(1, 5)
    with FaultProxy(hub.port) as proxy:
        cards = []
        for swap in range(swaps + 1):
            card = _kiosk(tmp_path / f"card-{swap}", "kiosk-1", proxy.url, token)
            cards.append(card)
            held = len(hub_seqs(hub, "kiosk-1"))
            _start(card)
            wait_until(lambda held=held: len(hub_seqs(hub, "kiosk-1")) >= held + 40, timeout=60,
                       message="the new card's presses to reach the hub")
            proxy.set("drop")  # the card fails with presses it could not send
            wait_until(lambda card=card: card.status()["queued"] >= 10, timeout=30,
                       message="presses to queue up")
            assert card.stop() == 0
            proxy.set("pass")
        renumbered = [card.status()["renumbered"] for card in cards[1:]]
        assert all(renumbered), renumbered  # each later card started below the hub's highest
        # The old cards come back, last to first, with what they never sent.
        for card in reversed(cards[:-1]):
            drain(hub, card)
        drain(hub, cards[-1])
        figures = check_cards(hub, "kiosk-1", cards, tmp_path)
    # The device health shows the card changes.
    assert rows(hub.db, "SELECT count(*) FROM device_buffers")[0][0] == len(cards)
    assert rows(hub.db, "SELECT seq_conflicts FROM device_state")[0][0] >= swaps
    record("sync", "SD card replaced (same device id and token), the old card back",
           faults=swaps, seconds=time.monotonic() - started,
           note=f"{len(cards)} cards of one device", **figures)


def test_a_hub_restored_from_a_backup_under_live_kiosks_gets_back_what_it_lost(hub, tmp_path):
    """The documented restore (stop, put the backup in place, start) while two kiosks press:
    the presses synced after the backup are resent by the kiosks, which keep them."""
    hub.start()
    started = time.monotonic()
    kiosks = [_kiosk(tmp_path, f"kiosk-{n}", hub.url, hub.add_device(f"kiosk-{n}"))
              for n in (1, 2)]
    for kiosk in kiosks:
        _start(kiosk)
    restores = scale(1, 5)
    lost_by_restore = 0

    def stored():
        return rows(hub.db, "SELECT count(*) FROM presses")[0][0]

    for restore in range(restores):
        wait_until(lambda goal=40 * (restore + 1): stored() >= goal, timeout=60,
                   message="presses to reach the hub")
        backup = tmp_path / f"backup-{restore}.db"
        hub.cli("backup", str(backup))
        at_backup = rows(backup, "SELECT count(*) FROM presses")[0][0]
        wait_until(lambda goal=at_backup + 60: stored() >= goal, timeout=60,
                   message="presses synced after the backup")
        hub.stop()
        before_restore = stored()
        lost_by_restore += before_restore - at_backup
        hub.db.rename(tmp_path / f"hub.db.broken-{restore}")
        for suffix in ("-wal", "-shm"):
            (tmp_path / f"hub.db{suffix}").unlink(missing_ok=True)
        shutil.copyfile(backup, hub.db)
        hub.cli("init-db")
        hub.start()
        wait_until(lambda goal=before_restore: stored() >= goal, timeout=60,
                   message="the hub to hold again as many presses as before the restore")
    for kiosk in kiosks:
        assert kiosk.stop() == 0
    figures = check_invariant(hub, kiosks, tmp_path)
    resent = [kiosk.status()["resent"] for kiosk in kiosks]
    assert all(resent), resent  # kiosk status says what it sent again, and why
    assert lost_by_restore > 0
    record("hub", "restore from a backup under live kiosks", faults=restores,
           seconds=time.monotonic() - started,
           note=f"{lost_by_restore} presses synced after the backups, all sent again",
           **figures)
