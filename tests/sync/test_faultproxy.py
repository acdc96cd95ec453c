"""The fault proxy does what each fault says, so the sync tests prove what they claim."""

import pytest
import requests

from tests.faultproxy import FaultProxy
from tests.sync.fakes import TOKEN


@pytest.fixture
def proxy(hub):
    with FaultProxy(hub.port, delay_s=0.3) as proxy:
        yield proxy


def post(proxy, seq, timeout=(1, 2)):
    body = {"device_id": "kiosk-1", "boot_id": "b", "uptime_ms": 1,
            "presses": [{"seq": seq}]}
    return requests.post(proxy.url + "/api/v1/presses", json=body, timeout=timeout,
                         headers={"Authorization": f"Bearer {TOKEN}"})


def test_pass_forwards_request_and_answer(proxy, hub):
    assert post(proxy, 1).json()["inserted"] == 1
    assert post(proxy, 1).json()["duplicates"] == 1
    assert proxy.counts["pass"] == 2


@pytest.mark.parametrize("fault", ["drop", "reset"])
def test_drop_and_reset_never_reach_the_hub(proxy, hub, fault):
    proxy.set(fault)
    with pytest.raises(requests.ConnectionError):
        post(proxy, 1)
    assert hub.requests == []


@pytest.mark.parametrize("fault", ["cut", "truncate"])
def test_cut_and_truncate_lose_the_answer_after_the_hub_committed(proxy, hub, fault):
    proxy.set(fault)
    with pytest.raises(requests.RequestException):  # ConnectionError or ChunkedEncodingError
        post(proxy, 1)
    assert list(hub.presses) == [1]  # committed, but the client never heard


def test_delay_holds_the_request_back(proxy, hub):
    proxy.set("delay")
    with pytest.raises(requests.exceptions.ReadTimeout):
        post(proxy, 1, timeout=(1, 0.1))
    proxy.set("delay", delay_s=0.05)
    assert post(proxy, 2).status_code == 200


def test_503_is_answered_by_the_proxy_itself(proxy, hub):
    proxy.set("503", retry_after=5)
    response = post(proxy, 1)
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert hub.requests == []


def test_random_mode_is_reproducible_from_its_seed(hub):
    draws = []
    for _ in range(2):
        with FaultProxy(hub.port) as proxy:
            proxy.randomly({"pass": 0.5, "503": 0.5}, seed=3)
            draws.append([post(proxy, 1).status_code for _ in range(20)])
    assert draws[0] == draws[1] and set(draws[0]) == {200, 503}


def test_a_hub_that_is_down_looks_like_a_closed_connection(hub):
    with FaultProxy(hub.port) as proxy:
        hub.close()
        with pytest.raises(requests.ConnectionError):
            post(proxy, 1)
