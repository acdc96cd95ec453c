"""The `hub` command: thin commands over the library. Errors a user can fix are one line."""

import json
import re
import sqlite3
import sys
from pathlib import Path

import click

from hub import backup as backups
from hub import reports
from hub.csvout import csv_lines
from hub.errors import ApiError
from hub.hours import BadHours, OpeningHours
from hub.payloads import DEVICE_ID
from hub.store import Conflict, Database, NotInitialised, registry, rollups
from hub.times import format_utc, system_clock, zone

SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,63}", re.ASCII)
USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}", re.ASCII)
MIN_PASSWORD = 8


class HubGroup(click.Group):
    """A click group whose errors are one line on stderr, never a traceback."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
        except click.exceptions.NoArgsIsHelpError as error:
            # A group without its command: click would print the whole help as the error.
            ctx = error.ctx
            names = ", ".join(ctx.command.list_commands(ctx))
            click.echo(f"Error: {ctx.command_path} needs a command ({names}); "
                       f"see '{ctx.command_path} --help'", err=True)
            sys.exit(error.exit_code)
        except click.ClickException as error:
            click.echo(f"Error: {error.format_message()}", err=True)
            sys.exit(error.exit_code)
        except click.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (Conflict, NotInitialised, BadHours) as error:
            raise click.ClickException(str(error)) from None
        except ApiError as error:
            raise click.ClickException(error.message) from None
        except sqlite3.Error as error:
            raise click.ClickException(f"{ctx.obj.path}: {error}") from None


class Hub:
    """What every command gets: the database path and the clock."""

    def __init__(self, path):
        self.path = path

    def open(self):
        return Database.open_existing(self.path)

    def now(self):
        return system_clock()


pass_hub = click.make_pass_decorator(Hub)


@click.group(cls=HubGroup)
@click.option("--db", "path", envvar="HUB_DATABASE", default="hub.db", show_default=True,
              metavar="PATH", help="The hub database (else $HUB_DATABASE).")
@click.version_option(package_name="kiosk-hub")
@click.pass_context
def cli(ctx, path):
    """The hub of the feedback kiosks: database, devices, users and the web server.

    \b
    Example:
        hub --db /var/lib/kiosk-hub/hub.db init-db
    """
    ctx.obj = Hub(path)


def main():
    cli(prog_name="hub")


@cli.command("init-db")
@pass_hub
def init_db(hub):
    """Create the database, or bring it up to date (safe to run again).

    \b
    Example:
        hub --db hub.db init-db
    """
    db = Database(hub.path)
    try:
        applied = db.migrate(format_utc(hub.now()))
        registry.ensure_secret_key(db)
        version = db.schema_version()
    finally:
        db.close()
    what = f"applied {', '.join(applied)}" if applied else "already up to date"
    click.echo(f"{hub.path}: schema version {version} ({what})")


# Locations


@cli.group()
def location():
    """Places where kiosks stand.

    \b
    Example:
        hub location add ams-security --name "Amsterdam security" --timezone Europe/Amsterdam
    """


@location.command("add")
@click.argument("slug")
@click.option("--name", required=True, help="Name shown to operators.")
@click.option("--timezone", "timezone", required=True, metavar="IANA_TZ",
              help="The location's time zone, e.g. Europe/Amsterdam.")
@click.option("--hours", help='Opening hours, e.g. "mon-fri 07:00-22:00; sat 09:00-17:00".')
@click.option("--group", help="An optional group name (a terminal, a building).")
@pass_hub
def location_add(hub, slug, name, timezone, hours, group):
    """Add a location.

    \b
    Example:
        hub location add ams-security --name "Schiphol security" --timezone Europe/Amsterdam \\
            --hours "mon-fri 07:00-22:00; sat 09:00-17:00"
    """
    if not SLUG.fullmatch(slug):
        raise click.BadParameter("expected lowercase letters, digits and -", param_hint="SLUG")
    _check_timezone(timezone)
    _check_hours(hours)
    registry.add_location(hub.open(), slug, name, timezone, hours, format_utc(hub.now()), group)
    click.echo(f"added location {slug} ({timezone})")


def _check_timezone(timezone):
    if timezone is not None and zone(timezone) is None:
        raise click.BadParameter(f"{timezone!r} is not an IANA time zone (like Europe/Amsterdam)",
                                 param_hint="--timezone")


def _check_hours(hours):
    if hours:
        try:
            OpeningHours.parse(hours)
        except BadHours as error:
            raise click.BadParameter(str(error), param_hint="--hours") from None


@location.command("edit")
@click.argument("slug")
@click.option("--name", help="Name shown to operators.")
@click.option("--timezone", "timezone", metavar="IANA_TZ",
              help="A new time zone: the location's presses are recounted into its local "
                   "hours, saved in the same transaction as the change.")
@click.option("--hours", help='Opening hours, e.g. "mon-fri 07:00-22:00"; "" for always open.')
@click.option("--group", help='The group it belongs to; "" for none.')
@pass_hub
def location_edit(hub, slug, name, timezone, hours, group):
    """Change a location's name, time zone, opening hours or group; what is not given stays.
    A new time zone recounts its hourly counts in that zone (kiosks keep sending meanwhile).

    \b
    Example:
        hub location edit ams-security --timezone Europe/London --hours "mon-sun 06:00-23:00"
    """
    if name is None and timezone is None and hours is None and group is None:
        raise click.UsageError("nothing to change: give --name, --timezone, --hours or --group")
    if name is not None and not name.strip():
        raise click.BadParameter("a location needs a name", param_hint="--name")
    _check_timezone(timezone)
    _check_hours(hours)
    db = hub.open()
    row = registry.location(db, slug)
    if row is None:
        raise Conflict(f"no location {slug!r}; `hub location add` creates one")
    timezone = timezone or row["timezone"]
    recounted = registry.update_location(
        db, slug, row["name"] if name is None else name, timezone,
        row["opening_hours"] if hours is None else hours or None,
        row["location_group"] if group is None else group or None)
    if recounted is None:
        click.echo(f"edited location {slug} ({timezone})")
    else:
        click.echo(f"edited location {slug} ({timezone}): recounted {recounted[0]} presses"
                   f" into {recounted[1]} hourly rollups")


@location.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON list instead of a table.")
@pass_hub
def location_list(hub, as_json):
    """List locations.

    \b
    Example:
        hub location list --json
    """
    rows = [dict(row) for row in registry.locations(hub.open())]
    for row in rows:
        del row["id"]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(f"{row['slug']}\t{row['timezone']}\t{row['name']}\t{row['opening_hours'] or ''}")


# Devices


@cli.group()
def device():
    """Kiosks and their tokens.

    \b
    Example:
        hub device add ams-security-03 --location ams-security > token
    """


def _device_id(value):
    if not DEVICE_ID.fullmatch(value):
        raise click.BadParameter("expected letters, digits, '.', '_' and '-' (at most 64)",
                                 param_hint="DEVICE_ID")
    return value


@device.command("add")
@click.argument("device_id")
@click.option("--location", "slug", required=True, help="Where the kiosk stands.")
@pass_hub
def device_add(hub, device_id, slug):
    """Register a kiosk; print its token, alone, on stdout (shown only this once).

    \b
    Example:
        hub device add ams-security-03 --location ams-security > ams-security-03.token
    """
    token = registry.add_device(hub.open(), _device_id(device_id), slug, format_utc(hub.now()))
    click.echo(token)


@device.command("move")
@click.argument("device_id")
@click.option("--location", "slug", required=True, help="Where the kiosk stands now.")
@pass_hub
def device_move(hub, device_id, slug):
    """Move a kiosk: its presses from now on count for the new location, earlier ones stay.

    \b
    Example:
        hub device move ams-security-03 --location ams-gate-d
    """
    registry.move_device(hub.open(), device_id, slug, format_utc(hub.now()))
    click.echo(f"moved {device_id} to {slug}")


@device.command("revoke")
@click.argument("device_id")
@pass_hub
def device_revoke(hub, device_id):
    """Revoke a kiosk's token: its requests get 401 from now on. Its presses stay.

    \b
    Example:
        hub device revoke ams-security-03
    """
    registry.revoke_device(hub.open(), device_id, format_utc(hub.now()))
    click.echo(f"revoked {device_id}")


@device.command("rotate-token")
@click.argument("device_id")
@pass_hub
def device_rotate_token(hub, device_id):
    """Give a kiosk a new token; print it, alone, on stdout (shown only this once).

    The old token answers 401 from now on (a lost or stolen card). The device keeps its id,
    location, presses and numbering; a revoked device is active again with the new token.

    \b
    Example:
        hub device rotate-token ams-security-03 > ams-security-03.token
    """
    token = registry.rotate_device_token(hub.open(), device_id)
    click.echo(token)


DEVICE_CSV_COLUMNS = ("device", "location", "version", "last_seen", "queue", "clock", "card",
                      "revoked_at")


@device.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON list instead of a table.")
@click.option("--format", "output_format", type=click.Choice(["table", "csv"]), default="table",
              show_default=True, help="csv: the fleet inventory, one row per kiosk.")
@pass_hub
def device_list(hub, as_json, output_format):
    """List kiosks: location, version, last seen, queue, clock, card.

    \b
    Example:
        hub device list --json
        hub device list --format csv > fleet.csv
    """
    rows = [dict(row) for row in registry.devices(hub.open())]
    for row in rows:
        row["clock_synced"] = None if row["clock_synced"] is None else bool(row["clock_synced"])
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if output_format == "csv":
        clock = {True: "synced", False: "not synced", None: None}
        sys.stdout.writelines(csv_lines(DEVICE_CSV_COLUMNS, (
            (row["device_id"], row["location"], row["version"], row["last_seen_at"],
             row["queued"], clock[row["clock_synced"]], row["card"], row["revoked_at"])
            for row in rows)))
        return
    for row in rows:
        state = f"revoked {row['revoked_at']}" if row["revoked_at"] else "active"
        card = (row["card"] or "-")[:8] + (f" ({row['cards']} cards)" if row["cards"] > 1 else "")
        click.echo(f"{row['device_id']}\t{row['location']}\t{state}\t"
                   f"last seen {row['last_seen_at'] or 'never'}\tqueued {row['queued'] or 0}\t"
                   f"card {card}")


# Users and tokens


@cli.group()
def user():
    """Operators who read the dashboard and the API.

    \b
    Example:
        hub user add alice --admin
    """


@user.command("add")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.option("--admin", is_flag=True, help="May administer the hub (default: viewer).")
@pass_hub
def user_add(hub, username, password_stdin, admin):
    """Add an operator; the password comes from a prompt or stdin.

    \b
    Example:
        printf '%s\\n' "$PASSWORD" | hub user add alice --admin --password-stdin
    """
    if not USERNAME.fullmatch(username):
        raise click.BadParameter("expected letters, digits, '.', '_', '@' and '-'",
                                 param_hint="USERNAME")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < MIN_PASSWORD:
        raise click.ClickException(f"the password needs at least {MIN_PASSWORD} characters")
    role = "admin" if admin else "viewer"
    registry.add_user(hub.open(), username, password, role, format_utc(hub.now()))
    click.echo(f"added {role} {username}", err=True)


@cli.group("api-token")
def api_token():
    """Tokens for scripts that read the API.

    \b
    Example:
        hub api-token add alice > alice.token
    """


@api_token.command("add")
@click.argument("username")
@pass_hub
def api_token_add(hub, username):
    """Create a read-API token for a user; print it, alone, on stdout (shown only once).

    \b
    Example:
        TOKEN=$(hub api-token add alice)
        curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/api/v1/locations
    """
    click.echo(registry.add_api_token(hub.open(), username, format_utc(hub.now())))


# Running and data


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64),
              help="gunicorn worker processes.")
@pass_hub
def serve(hub, host, port, workers):
    """Run the hub's web server (gunicorn). SIGTERM stops it gracefully.

    \b
    Example:
        hub --db /var/lib/kiosk-hub/hub.db serve --host 0.0.0.0 --port 8000 --workers 2
    """
    from hub.serve import HubServer

    hub.open().close()  # a missing or old database is a one-line error, not 503s later
    HubServer(Path(hub.path).resolve(), host, port, workers).run()


# The location page's tables as `hub export --table` gives them (and "hours", every local
# hour of the dates): name -> (columns, rows of that part of the page, its key in the page).
PAGE_TABLES = {
    "daily": (reports.DAILY_COLUMNS, reports.daily_csv_rows, "daily"),
    "heatmap": (reports.HEATMAP_COLUMNS, reports.heatmap_csv_rows, "heatmap"),
    "moods": (reports.MOODS_COLUMNS, reports.moods_csv_rows, "distribution"),
    "devices": (reports.DEVICE_COLUMNS, reports.device_csv_rows, "devices"),
    "alerts": (reports.ALERT_COLUMNS, reports.alert_csv_rows, "alerts"),
}


def _local_date(ctx, param, value):
    """A --from/--to date as the API takes it (years 1900-9998)."""
    from hub.times import FIRST_YEAR, LAST_YEAR, parse_date

    parsed = parse_date(value)
    if parsed is None:
        raise click.BadParameter(f"expected a date YYYY-MM-DD (years {FIRST_YEAR}-{LAST_YEAR}),"
                                 f" got {value!r}")
    return parsed


@cli.command()
@click.option("--location", "slug", required=True, help="The location's slug.")
@click.option("--from", "first", required=True, callback=_local_date,
              help="First local date, YYYY-MM-DD.")
@click.option("--to", "last", required=True, callback=_local_date,
              help="Last local date, YYYY-MM-DD (inclusive).")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv",
              show_default=True)
@click.option("--include-misuse", is_flag=True, help="Include presses flagged as misuse.")
@click.option("--table", type=click.Choice(["presses", "hours", *PAGE_TABLES]),
              default="presses",
              show_default=True,
              help="Raw presses, or one table of the location page for the dates, as its "
                   "CSV button gives it (hours: every local hour with presses).")
@pass_hub
def export(hub, slug, first, last, fmt, include_misuse, table):
    """Write a location's raw presses to stdout, in placed-time order, or one table of its
    page (the same rows as the page's CSV button).

    \b
    Example:
        hub export --location ams-security --from 2026-10-01 --to 2026-10-31 > october.csv
        hub export --location ams-security --from 2026-10-01 --to 2026-10-31 --table daily
    """
    db = hub.open()
    out = sys.stdout
    if table != "presses":
        columns, rows = _page_table(db, slug, first, last, table, hub.now())
        if fmt == "csv":
            out.writelines(csv_lines(columns, rows))
        else:
            out.write(json.dumps([dict(zip(columns, row, strict=True)) for row in rows],
                                 indent=1) + "\n")
        return
    query = reports.press_query(db, slug, first, last,
                                include_misuse=include_misuse)
    rows = reports.all_presses(db, query)
    if fmt == "csv":
        out.writelines(csv_lines(reports.PRESS_COLUMNS, reports.press_csv_rows(rows)))
        return
    out.write("[")
    for n, row in enumerate(rows):
        out.write(("," if n else "") + "\n" + json.dumps(row))
    out.write("\n]\n")


def _page_table(db, slug, first, last, table, now):
    """(columns, rows) of one table of the location page for local dates first..last."""
    if table == "hours":
        return reports.HOURLY_COLUMNS, list(reports.hourly_csv_rows(
            reports.hourly(db, slug, first, last)))
    page = reports.location_page(db, slug, first, last, last, now)
    columns, make_rows, key = PAGE_TABLES[table]
    return columns, list(make_rows(page[key]))


# Actions


@cli.group()
def action():
    """What a team did at a location, to see whether the feedback changed after it.

    \b
    Example:
        hub action add ams-security --title "Second scanner opened" --at "2026-11-22 07:30"
    """


def _cli_user():
    """Who records from the command line: "cli:" and the login name (the sudo user's)."""
    import getpass
    import os

    try:
        name = os.environ.get("SUDO_USER") or getpass.getuser()
    except (KeyError, OSError):
        name = ""
    return f"cli:{name}" if name else "cli"


@action.command("add")
@click.argument("slug")
@click.option("--title", required=True, help="What was done, in a few words.")
@click.option("--at", "at", required=True, metavar="TIME",
              help='When it started: the location\'s local time "YYYY-MM-DD HH:MM", or '
                   "RFC 3339 with an offset.")
@click.option("--until", metavar="TIME",
              help="When it ended (the same forms); leave it out for a change that stays.")
@click.option("--note", default="", help="A longer note.")
@click.option("--alert", "alert_id", metavar="ID", help="The number of the alert it answers.")
@click.option("--by", "created_by", metavar="NAME",
              help="Who recorded it (default: cli:$USER).")
@pass_hub
def action_add(hub, slug, title, at, until, note, alert_id, created_by):
    """Record an action at a location; print its id, alone, on stdout. A local time that
    the clocks skip (DST) is refused; one they show twice needs RFC 3339 with its offset.
    The effect is on the page /actions/ID and at GET /api/v1/actions/ID/effect.

    \b
    Example:
        hub action add ams-security --title "Second scanner opened" --at "2026-11-22 07:30"
        hub action add ams-security --title "Queue signs" --at 2026-11-22T07:30:00+01:00 \\
            --until "2026-11-29 22:00" --note "A week's trial" --alert 12
    """
    from hub import effects

    db = hub.open()
    try:
        action_id = effects.record(
            db, slug, title=title, at=at, until=until, note=note,
            alert_id=effects.parse_alert_id(alert_id), created_by=created_by or _cli_user(),
            now=hub.now())
    except effects.BadAction as error:
        raise click.BadParameter(error.detail, param_hint=f"--{error.field}") from None
    recorded = effects.entry(effects.store.action(db, action_id))
    click.echo(action_id)
    click.echo(f"recorded action {action_id} at {slug}: {recorded['title']}, from "
               f"{recorded['starts_at']}" + (f" to {recorded['ends_at']}"
                                             if recorded["ends_at"] else ""), err=True)


@action.command("list")
@click.argument("slug")
@click.option("--json", "as_json", is_flag=True,
              help="The API's JSON (GET /api/v1/locations/SLUG/actions) instead of a table.")
@pass_hub
def action_list(hub, slug, as_json):
    """List a location's actions in time order, each with its effect over 14 days.

    \b
    Example:
        hub action list ams-security --json
    """
    from hub import effects

    db = hub.open()
    listed = effects.location_actions(db, slug)["actions"]
    if as_json:
        click.echo(json.dumps(listed, indent=2))
        return
    now = hub.now()
    for item in listed:
        effect = effects.effect(db, item["id"], effects.DEFAULT_DAYS, now)
        click.echo(f"{item['id']}\t{item['starts_at']}\t{item['ends_at'] or '-'}\t"
                   f"{item['title']}\t{item['created_by']}\t{effect['summary']}")


@cli.group("alerts")
def alerts_group():
    """Alert rules (negative feedback, silent devices) and their webhooks.

    \b
    Example:
        hub --db /var/lib/kiosk-hub/hub.db alerts run
    """


@alerts_group.command("run")
@pass_hub
def alerts_run(hub):
    """Evaluate the alert rules once, then send the webhook deliveries that are due.
    kiosk-hub-alerts.timer runs this every minute.

    \b
    Example:
        hub --db /var/lib/kiosk-hub/hub.db alerts run
    """
    from hub import alerts, webhooks

    db = hub.open()
    now = hub.now()
    events = alerts.evaluate(db, now)
    delivered, retrying = webhooks.deliver_due(db, now)
    raised, resolved, cleared = (sum(event == f"alert.{kind}" for event, _ in events)
                                 for kind in ("raised", "resolved", "cleared"))
    click.echo(f"alerts: {raised} raised, {resolved} resolved, {cleared} cleared;"
               f" webhooks: {delivered} delivered, {retrying} failed")


@cli.command("rebuild-rollups")
@pass_hub
def rebuild_rollups(hub):
    """Recompute the hourly counts from the raw presses, one location at a time (each
    saved in a short transaction: kiosks keep sending meanwhile).

    \b
    Example:
        hub rebuild-rollups
    """
    try:
        presses, hours = rollups.rebuild_rollups(hub.open())
    except rollups.NotRebuilt as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"rebuilt {hours} hourly rollups from {presses} presses")


@cli.command()
@click.argument("dest", type=click.Path(path_type=Path))
@click.option("--keep", type=click.IntRange(1), help="Keep only the newest N backups in DEST.")
@pass_hub
def backup(hub, dest, keep):
    """Copy the database, safely while the hub runs. DEST is a directory (gets
    hub-YYYYmmddTHHMMSSZ.db, created if missing) or a file path ending in .db. A DEST that
    is the live database, its -wal or -shm, or any SQLite file in use is refused (exit 2).

    \b
    Example:
        hub --db /var/lib/kiosk-hub/hub.db backup /var/lib/kiosk-hub/backups --keep 14
    """
    try:
        written, removed = backups.backup(hub.open(), dest, hub.now(), keep)
    except backups.LiveDatabase as error:
        raise click.BadParameter(str(error), param_hint="'DEST'") from None
    except (ValueError, OSError) as error:
        raise click.ClickException(str(error)) from None
    click.echo(str(written))
    for path in removed:
        click.echo(f"removed {path}", err=True)


@cli.command()
@click.option("--dir", "directory", type=click.Path(path_type=Path), default=".demo",
              show_default=True, help="Where the demo keeps its database, kiosks and logs.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535),
              envvar="DEMO_PORT", help="Port of the demo hub (else $DEMO_PORT).")
@click.option("--days", default=90, show_default=True, type=click.IntRange(1, 400),
              help="Days of history to seed.")
@click.option("--seconds", type=click.IntRange(1), envvar="DEMO_SECONDS",
              help="Stop after this many seconds and check the hub got data "
                   "(else $DEMO_SECONDS; default: run until Ctrl-C).")
@click.option("--rate", default=6.0, show_default=True, type=click.FloatRange(0),
              help="Presses per minute of each simulated kiosk.")
@click.option("--seed-only", is_flag=True, help="Seed the database, start nothing.")
def demo(directory, port, days, seconds, rate, seed_only):
    """Seed a demo hub (three locations in three time zones, DAYS of presses, a bad
    morning, a silent device, some misuse), then run `hub serve` and one simulated
    kiosk per location syncing into it. Ctrl-C stops everything. The demo directory is
    made anew each time. This is what `make demo` runs.

    \b
    Example:
        hub demo --dir .demo --port 8000
        DEMO_SECONDS=20 hub demo     # a smoke run: stops after 20 s, checks the data
    """
    import shutil
    import time

    from hub import demo as demos

    if directory.exists():
        if not (directory / "demo.json").is_file():
            raise click.ClickException(f"{directory} exists and is not a demo directory")
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    done = {}
    with click.progressbar(length=days * len(demos.LOCATIONS), label="seeding demo",
                           file=sys.stderr) as bar:
        def progress(slug, days_done):
            bar.update(days_done - done.get(slug, 0))
            done[slug] = days_done

        began = time.monotonic()
        state = demos.seed(directory / "hub.db", days=days, progress=progress)
    click.echo(f"seeded {days} days for {len(demos.LOCATIONS)} locations in "
               f"{time.monotonic() - began:.0f} s")
    (directory / "demo.json").write_text(json.dumps(state))
    (directory / "demo.json").chmod(0o600)
    if seed_only:
        click.echo(f"seeded {directory / 'hub.db'}; login {demos.DEMO_USER} / {state['password']}")
        return
    try:
        found = demos.run(directory, port, seconds, rate, echo=click.echo)
    except (RuntimeError, OSError) as error:
        raise click.ClickException(str(error)) from None
    if found is not None:
        for slug, (week, live) in found.items():
            click.echo(f"{slug}: {week} presses in the last week, {live} from the live kiosk")
        if not all(week for week, _ in found.values()):
            raise click.ClickException("demo smoke: the hub answered without data")
        silent = [slug for slug, (_, live) in found.items() if not live]
        if silent:
            raise click.ClickException("demo smoke: no press from the live kiosk of "
                                       + ", ".join(silent) + " reached the hub")
        click.echo("demo smoke: ok")
