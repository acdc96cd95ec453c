"""`hub demo`: a demo database with 90 days of realistic presses, and live simulated kiosks.

Seeding goes through the same validation and ingest path as a kiosk's batches, so the demo's
rollups, time placement and counters are the real thing. The live part starts `hub serve` and
one `kiosk run --simulate` per location, each syncing into the hub over HTTP on 127.0.0.1.
"""

import json
import math
import os
import random
import secrets
import signal
import subprocess  # nosec B404  # starts hub serve and kiosk run, fixed argv
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

from hub import alerts, effects
from hub.ingest import accept_batch, accept_heartbeat
from hub.payloads import parse_heartbeat, parse_press_batch
from hub.store import Database, registry
from hub.times import format_utc, zone

DEMO_USER = "demo"


@dataclass(frozen=True)
class DemoLocation:
    slug: str
    name: str
    timezone: str
    hours: str
    group: str
    open_hour: int  # local hours when presses come, a little wider than nobody at all
    close_hour: int
    daily_presses: int  # on an ordinary weekday
    mood: tuple  # base weights of moods 1-4
    devices: tuple  # seeded device ids; the first is the live kiosk


LOCATIONS = (
    DemoLocation(
        "ams-security", "Airport security, lane 3", "Europe/Amsterdam",
        "mon-sun 05:00-23:00", "Airport", 5, 23, 520, (6, 10, 38, 46),
        ("ams-security-01", "ams-security-02"),
    ),
    DemoLocation(
        "blr-library", "City library, reading room", "Asia/Kolkata",
        "mon-sat 09:00-20:00", "Library", 9, 20, 140, (3, 6, 41, 50),
        ("blr-library-01",),
    ),
    DemoLocation(
        "yyt-clinic", "Harbour clinic, waiting room", "America/St_Johns",
        "mon-fri 07:30-18:00", "Clinic", 7, 18, 180, (9, 16, 40, 35),
        ("yyt-clinic-01", "yyt-clinic-02"),
    ),
)
SILENT_DEVICE = "yyt-clinic-02"  # stopped sending three hours ago: shows as silent
SILENT_FOR = timedelta(hours=3)
BAD_MORNING = ("ams-security", 7, 10)  # local 07:00-10:00: a queue made people unhappy


@dataclass(frozen=True)
class DemoAction:
    slug: str
    title: str
    note: str
    days_ago: int  # local days before today (half the seeded days, when fewer)
    hour: int  # the local hour it starts


# What was done (closing the loop). The airport's everyday morning queue (07:00-09:00, more
# unhappy presses) ends in the generated presses when its second scanner opens, so that
# action's effect page says "better" from the presses themselves; the library's signs
# change nothing in them: "no clear change".
SECOND_SCANNER = DemoAction(
    "ams-security", "Second scanner opened",
    "Lane 3 runs a second scanner from 07:00 to 09:00, the morning peak.", 21, 7)
QUIET_SIGNS = DemoAction(
    "blr-library", "Quiet-zone signs in the reading room",
    "Six signs asking for quiet near the desks.", 18, 10)
ACTIONS = (SECOND_SCANNER, QUIET_SIGNS)


def action_start(action, now, days):
    """When a demo action starts: its local hour, *days_ago* local days before today (at
    most half of the *days* seeded, so that there are presses before it)."""
    location = next(loc for loc in LOCATIONS if loc.slug == action.slug)
    tz = zone(location.timezone)
    day = now.astimezone(tz).date() - timedelta(days=min(action.days_ago, days // 2))
    return datetime(day.year, day.month, day.day, action.hour, tzinfo=tz).astimezone(UTC)


def bad_morning_day(location, now):
    """The latest local day whose bad morning is over at *now* (today after 10:00)."""
    local = now.astimezone(zone(location.timezone))
    return local.date() if local.hour >= BAD_MORNING[2] else local.date() - timedelta(days=1)


def _hour_weight(location, hour):
    """How busy a local hour is: a morning and an afternoon peak inside opening hours."""
    if not location.open_hour <= hour < location.close_hour:
        return 0.0
    morning = math.exp(-((hour - 8.5) ** 2) / 6)
    afternoon = math.exp(-((hour - 16) ** 2) / 8)
    return 0.25 + morning + 0.8 * afternoon


def _weekday_factor(location, weekday):
    if location.slug == "yyt-clinic":
        return 1.0 if weekday < 5 else 0.0
    if location.slug == "blr-library":
        return 0.0 if weekday == 6 else (1.3 if weekday == 5 else 1.0)
    return 1.25 if weekday in (4, 6) else 1.0  # the airport: Friday and Sunday peaks


def mood_weights(location, local_start, bad=False, queue=True):
    """Weights of moods 1-4 of a press at local time *local_start* (*bad*: a bad spell;
    *queue* False: the airport's morning queue is gone, a second scanner runs)."""
    w1, w2, w3, w4 = location.mood
    if bad:
        return (50, 30, 12, 8)
    if queue and location.slug == "ams-security" and 7 <= local_start.hour < 9:
        return (w1 * 2, w2 * 2, w3, w4 * 0.7)  # morning queues (until a second scanner)
    if location.slug == "yyt-clinic" and local_start.hour >= 15:
        return (w1 * 1.6, w2 * 1.5, w3, w4 * 0.8)  # long afternoon waits
    return (w1, w2, w3, w4)


def hourly_rate(location, day, hour):
    """Presses expected at *location* in local *hour* of local *day* (an ordinary hour)."""
    weights = [_hour_weight(location, h) for h in range(24)]
    return (location.daily_presses * _weekday_factor(location, day.weekday()) * weights[hour]
            / sum(weights))


def generate_presses(location, first_day, days, now, rng, bad_morning=True, scanner_at=None):
    """Yield (device_id, pressed_at UTC, mood, misuse) in time order for *location*; with
    *bad_morning* False, ordinary days only (no planted bad morning). *scanner_at*: when the
    airport's second scanner opened, ending its morning queue (None: never)."""
    tz = zone(location.timezone)
    bad_slug, bad_from, bad_to = BAD_MORNING
    bad_day = bad_morning_day(location, now) if bad_morning else None
    for n in range(days):
        day = first_day + timedelta(days=n)
        for hour in range(24):
            expected = hourly_rate(location, day, hour)
            if not expected:
                continue
            local_start = datetime(day.year, day.month, day.day, hour, tzinfo=tz)
            start = local_start.astimezone(UTC)
            bad = location.slug == bad_slug and day == bad_day and bad_from <= hour < bad_to
            if bad:
                expected *= 1.6
            moods = mood_weights(location, local_start, bad,
                                 queue=scanner_at is None or start < scanner_at)
            count = poisson(rng, expected)
            offsets = sorted(rng.uniform(0, 3600) for _ in range(count))
            for offset in offsets:
                pressed = start + timedelta(seconds=offset)
                if pressed >= now:
                    break
                devices = location.devices
                device = devices[0] if len(devices) == 1 or rng.random() < 0.6 else devices[1]
                if device == SILENT_DEVICE and pressed > now - SILENT_FOR:
                    continue
                mood = rng.choices((1, 2, 3, 4), weights=moods)[0]
                yield device, pressed, mood, False
                if rng.random() < 0.005:  # a child hammering the button: kept, flagged
                    for k in range(rng.randint(2, 5)):
                        yield device, pressed + timedelta(seconds=0.4 * (k + 1)), mood, True


def poisson(rng, mean):
    """A Poisson-distributed count with *mean*, drawn from *rng*."""
    # Knuth's method is fine for the small means of one hour at one kiosk.
    if mean <= 0:
        return 0
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def seed(path, days=90, now=None, rng=None, progress=None):
    """Create a demo database at *path* (which must not exist); return what the demo needs.

    *progress*, if given, is called with the number of days seeded so far for each location.
    """
    now = now or datetime.now(UTC)
    rng = rng or random.Random(2026)  # nosec B311  # demo data, reproducible on purpose
    db = Database(path)
    try:
        db.migrate(format_utc(now))
        registry.ensure_secret_key(db)
        stamp = format_utc(now)
        password = secrets.token_urlsafe(12)
        registry.add_user(db, DEMO_USER, password, "admin", stamp)
        api_token = registry.add_api_token(db, DEMO_USER, stamp)
        live = {}
        for location in LOCATIONS:
            registry.add_location(db, location.slug, location.name, location.timezone,
                                  location.hours, stamp, location.group)
            for device in location.devices:
                registry.add_device(db, device, location.slug, stamp)
            live_id = f"{location.slug}-live"
            live[live_id] = registry.add_device(db, live_id, location.slug, stamp)
            _seed_location(db, location, days, now, rng, progress)
        _raise_alerts(db, now)
        for action in ACTIONS:
            effects.record(db, action.slug, title=action.title, note=action.note,
                           at=format_utc(action_start(action, now, days)),
                           created_by=DEMO_USER, now=now)
        return {"password": password, "api_token": api_token, "live_devices": live}
    finally:
        db.close()


def _seed_location(db, location, days, now, rng, progress):
    tz = zone(location.timezone)
    today = now.astimezone(tz).date()
    first_day = today - timedelta(days=days - 1)
    batches = {device: [] for device in location.devices}
    seqs = dict.fromkeys(location.devices, 0)
    boot_id = {device: str(uuid.UUID(int=rng.getrandbits(128))) for device in location.devices}
    last_day = None
    scanner_at = (action_start(SECOND_SCANNER, now, days)
                  if location.slug == SECOND_SCANNER.slug else None)
    for device, pressed, mood, misuse in generate_presses(location, first_day, days, now, rng,
                                                          scanner_at=scanner_at):
        seqs[device] += 1
        batches[device].append({
            "seq": seqs[device], "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "mood": mood, "pressed_at": format_utc(pressed), "boot_id": boot_id[device],
            "uptime_ms": 0, "clock_synced": True, "misuse": misuse,
        })
        if len(batches[device]) == 1000:
            _send(db, device, boot_id[device], batches.pop(device), pressed)
            batches[device] = []
        day = pressed.astimezone(tz).date()
        if progress and day != last_day:
            last_day = day
            progress(location.slug, (day - first_day).days + 1)
    for device, presses in batches.items():
        if presses:
            _send(db, device, boot_id[device], presses, now)
    for device in location.devices:
        seen = now - SILENT_FOR if device == SILENT_DEVICE else now - timedelta(seconds=20)
        beat = parse_heartbeat({
            "device_id": device, "boot_id": boot_id[device], "uptime_ms": 86_400_000,
            "sent_at": format_utc(seen), "queued": 0, "oldest_queued_at": None,
            "clock_synced": True, "version": "demo",
        }, device)
        accept_heartbeat(db, beat, seen)
    if progress:
        progress(location.slug, days)


def _raise_alerts(db, now):
    """Run the alert rules as the minutely timer would have: at the worst of the bad
    morning (an open negative-feedback alert, unacknowledged) and now (the silent device)."""
    airport = next(loc for loc in LOCATIONS if loc.slug == BAD_MORNING[0])
    day = bad_morning_day(airport, now)
    worst = datetime(day.year, day.month, day.day, 8, 30, tzinfo=zone(airport.timezone))
    alerts.evaluate(db, worst.astimezone(UTC))
    alerts.evaluate(db, now)


def _send(db, device, boot_id, presses, received):
    # uptime_ms 0 everywhere: clock_synced presses are placed by their own (correct) clock.
    body = {"device_id": device, "boot_id": boot_id, "uptime_ms": 0, "presses": presses}
    accept_batch(db, parse_press_batch(body, device), received + timedelta(seconds=5))


# The live part: hub serve and simulated kiosks, until Ctrl-C or DEMO_SECONDS.


def kiosk_config(directory, device_id, token, hub_url):
    """Write a simulated kiosk's config and token under *directory*; return the config path."""
    home = Path(directory) / device_id
    home.mkdir(parents=True, exist_ok=True)
    token_file = home / "token"
    token_file.write_text(token + "\n")
    token_file.chmod(0o600)
    config = home / "kiosk.toml"
    config.write_text(
        f'device_id = "{device_id}"\n'
        f'hub_url = "{hub_url}"\n'
        f'token_file = "{token_file}"\n'
        f'data_dir = "{home / "data"}"\n'
        "lockout_s = 2.0\n"
        "sync_interval_s = 5\n"
        "[buttons]\nvery_unhappy = 5\nunhappy = 6\nhappy = 13\nvery_happy = 19\n"
    )
    return config


LIVE_GRACE_S = 60  # smoke mode: how long past DEMO_SECONDS a live kiosk may take


def run(directory, port, seconds=None, rate=6, echo=print):
    """Start `hub serve` and one simulated kiosk per location; stop on Ctrl-C or after *seconds*.

    Returns what `check` finds at the end, or None when stopped by Ctrl-C.
    """
    directory = Path(directory)
    state = json.loads((directory / "demo.json").read_text())
    hub_url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    logs = directory / "logs"
    logs.mkdir(exist_ok=True)
    procs = []

    def start(name, args):
        log = open(logs / f"{name}.log", "ab")  # noqa: SIM115 - closed when the demo stops
        # A session of their own: Ctrl-C reaches only the demo, which stops them in order.
        procs.append((subprocess.Popen(  # nosec B603  # our own console scripts, no shell
            args, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True), log))

    def interrupted(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)

    try:
        start("hub", [sys.executable, "-m", "hub", "--db", str(directory / "hub.db"), "serve",
                      "--host", "127.0.0.1", "--port", str(port), "--workers", "2"])
        _wait_for_hub(hub_url, procs[0][0])
        for device_id, token in state["live_devices"].items():
            config = kiosk_config(directory, device_id, token, hub_url)
            start(device_id, [sys.executable, "-m", "kiosk", "run", "--config", str(config),
                              "--simulate", str(rate)])
        echo(f"hub:      {hub_url}/")
        echo(f"login:    {DEMO_USER} / {state['password']}")
        echo(f"api:      curl -H 'Authorization: Bearer {state['api_token']}' "
             f"{hub_url}/api/v1/locations")
        echo(f"logs:     {logs}/")
        echo("Press Ctrl-C to stop." if seconds is None else f"Running for {seconds} s.")
        deadline = None if seconds is None else time.monotonic() + seconds
        while deadline is None or time.monotonic() < deadline:
            for proc, _ in procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"{proc.args[2]} {proc.args[3]} stopped "
                                       f"(exit {proc.returncode}); see {logs}/")
            time.sleep(0.5)
        # Smoke mode: give each live kiosk a little longer to sync its first press (a slow
        # machine), then report; a kiosk that sent nothing by then is a failure to report.
        grace = time.monotonic() + LIVE_GRACE_S
        found = check(hub_url, state["api_token"])
        while not all(live for _, live in found.values()) and time.monotonic() < grace:
            time.sleep(1)
            found = check(hub_url, state["api_token"])
        return found
    except KeyboardInterrupt:
        echo("\nstopping ...")
        return None
    finally:
        _stop(procs, echo)


def _stop(procs, echo):
    """SIGTERM to the kiosks, then the hub (they flush and stop), waiting for each. A second
    Ctrl-C (or a child that does not stop in 15 s) kills what is left instead of leaving it
    running in its own session, holding the port for the next `make demo`."""
    for proc, _ in reversed(procs):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    try:
        for proc, _ in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    except KeyboardInterrupt:
        echo("stopping now ...")
        for proc, _ in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    finally:
        for _, log in procs:
            log.close()
        # Everything is stopped: a Ctrl-C from now on has nothing left to stop, and must not
        # turn a clean stop into "Aborted!" on the way out.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _wait_for_hub(hub_url, proc, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"hub serve stopped at start (exit {proc.returncode})")
        try:
            if requests.get(f"{hub_url}/healthz", timeout=2).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"hub serve did not answer on {hub_url} within {timeout} s")


def check(hub_url, api_token, today=None):
    """What the hub answers for each demo location: {slug: (presses in the last week, live)}.

    *live* counts the presses the simulated kiosk synced during this run.
    """
    today = today or datetime.now(UTC).date()
    first, last = (today - timedelta(days=7)).isoformat(), (today + timedelta(days=1)).isoformat()
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {api_token}"
    result = {}
    for location in LOCATIONS:
        hourly = session.get(f"{hub_url}/api/v1/locations/{location.slug}/hourly",
                             params={"from": first, "to": last}, timeout=10)
        hourly.raise_for_status()
        live = session.get(f"{hub_url}/api/v1/presses", timeout=10, params={
            "location": location.slug, "from": first, "to": last,
            "device": f"{location.slug}-live", "limit": 10000})
        live.raise_for_status()
        result[location.slug] = (sum(h["total"] for h in hourly.json()["hours"]),
                                 len(live.json()["presses"]))
    return result
