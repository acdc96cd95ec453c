"""Fixtures for the sync tests: a controllable hub, a buffer, fake time, a loop wired to them."""

import random

import pytest

from kiosk.hub_client import HubClient
from kiosk.sync import SyncLoop
from tests.sync.fakes import FakeHub, FakeTime, Identity, MemoryBuffer, config


@pytest.fixture
def hub():
    hub = FakeHub()
    yield hub
    hub.close()


@pytest.fixture
def buffer():
    return MemoryBuffer()


@pytest.fixture
def fake_time():
    return FakeTime()


@pytest.fixture
def make_loop(hub, buffer, fake_time):
    """A SyncLoop against *hub* (or another URL), driven step by step with fake time."""
    loops = []
    hub.server_time = fake_time.wall_clock  # clocks agree unless a test says otherwise

    def make(url=None, timeout=(1.0, 2.0), identity=None, **overrides):
        cfg = config(url or hub.url, **overrides)
        loop = SyncLoop(
            cfg, buffer=buffer, client=HubClient(cfg.hub_url, cfg.token, cfg.ca_file, timeout),
            identity=identity or Identity(), wall_clock=fake_time.wall_clock,
            monotonic=fake_time.monotonic, rand=random.Random(5),
        )
        loops.append(loop)
        return loop

    yield make
    for loop in loops:
        loop.client.close()
