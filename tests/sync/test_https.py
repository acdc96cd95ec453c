"""A kiosk syncing over HTTPS to a hub whose certificate a private CA signed (a site's own
CA, delivered as ca_file), real processes: `kiosk run --simulate` → an HTTPS front →
`hub serve`. The certificate is then renewed with one that starts after the Pi's clock (a Pi
with no RTC and no NTP): `kiosk status` says so in plain words, and nothing is lost."""

import subprocess

import pytest

from tests.faultproxy import FaultProxy
from tests.faults.helpers import check_invariant, drain, hub_seqs
from tests.support import wait_until
from tests.sync.processes import KIOSK, HubProcess, KioskProcess
from tests.tls import PrivateCA

pytestmark = pytest.mark.slow


@pytest.fixture
def hub(tmp_path):
    hub = HubProcess(tmp_path)
    yield hub
    hub.stop()


def test_a_kiosk_syncs_to_a_hub_of_a_private_ca_and_names_a_certificate_not_yet_valid(
        hub, tmp_path):
    hub.start()
    ca = PrivateCA.create(tmp_path / "ca")
    # What requests would use without ca_file (certifi's bundle, say): not the site's CA.
    elsewhere = PrivateCA.create(tmp_path / "public", name="Some public CA")
    with FaultProxy(hub.port, tls=ca.issue("localhost")) as front:
        kiosk = KioskProcess(tmp_path, "kiosk-tls", front.url, hub.add_device("kiosk-tls"),
                             extra_env={"REQUESTS_CA_BUNDLE": str(elsewhere.cert)})
        kiosk.config.write_text(f'ca_file = "{ca.cert}"\n' + kiosk.config.read_text())
        kiosk.start(1200)
        try:
            wait_until(lambda: len(hub_seqs(hub, "kiosk-tls")) >= 40, timeout=60,
                       message="presses over HTTPS on the hub")
            assert kiosk.status()["last_sync_error"] is None
            front.use_certificate(*ca.issue("localhost", start="20990101000000Z",
                                            end="21000101000000Z", name="renewed"))
            wait_until(lambda: "not yet valid" in (kiosk.status()["last_sync_error"] or ""),
                       timeout=60, message="kiosk status to name the certificate's start")
            human = subprocess.run([KIOSK, "status", "--config", str(kiosk.config)],
                                   capture_output=True, text=True, timeout=30, env=kiosk.env)
            assert ("sync error  TLS: certificate is not yet valid by this kiosk's clock ("
                    in human.stdout)
            assert "the clock is behind (no RTC, no NTP?)" in human.stdout
        finally:
            assert kiosk.stop() == 0
        assert kiosk.status()["queued"] > 0  # kept while the hub could not be trusted
        # The clock is right again (NTP reached): here, a certificate valid now.
        front.use_certificate(*ca.issue("localhost", name="valid-again"))
        drain(hub, kiosk)
    check_invariant(hub, [kiosk], tmp_path)
