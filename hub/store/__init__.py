"""The hub's storage: every SQL statement of the hub lives in this package.

`Database` opens a connection; the modules hold the statements, as functions taking it:
`registry` (locations, devices, users, tokens), `ingest` (presses, heartbeats, rollups),
`rollups` (rebuilding them from the raw presses), `reads` (hourly counts, press pages,
metrics).
"""

from hub.store.database import Database, NotInitialised
from hub.store.registry import Conflict

__all__ = ["Conflict", "Database", "NotInitialised"]
