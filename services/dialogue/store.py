"""What the dialogue service keeps across restarts and power cuts: timers, alarms, memory and a few
settings, in one SQLite database (WAL, synchronous=FULL) under the state folder.

Changes are durable (fsync) once committed. Outside a turn every write commits at once; during a
turn the service collects the turn's writes in one transaction (``deferred()``) and commits it on
a worker thread while the reply goes out, so the fsync is not on the reply's path, and the next
turn waits for it. Timers keep absolute deadlines (epoch seconds), so time spent down still counts.

>>> store = Store(Path(":memory:"))
>>> store.set_value("user_name", "Theo")
>>> store.value("user_name")
'Theo'
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

_LOGGER = logging.getLogger(__name__)

DB_FILE = "samantha.db"
SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 5.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS timers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    duration_s REAL NOT NULL,
    deadline REAL,            -- epoch seconds when running; NULL when paused
    remaining_s REAL,         -- seconds left when paused; NULL when running
    ringing_since REAL,       -- epoch seconds when it started ringing
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS alarms (
    id TEXT PRIMARY KEY,
    hour INTEGER NOT NULL,
    minute INTEGER NOT NULL,
    recurrence TEXT NOT NULL, -- 'once', 'daily' or 'weekdays'
    next_at REAL NOT NULL,    -- epoch seconds of the next ring
    ringing_since REAL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS memory (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    subject TEXT NOT NULL,    -- what the fact is about, in the user's words seen from the device
    fact TEXT NOT NULL,       -- the whole fact as the device says it back
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


@dataclass
class TimerRow:
    """One timer as stored."""

    id: str
    name: str
    duration_s: float
    deadline: float | None
    remaining_s: float | None
    ringing_since: float | None
    created: float

    @property
    def paused(self) -> bool:
        return self.deadline is None

    def seconds_left(self, now: float) -> float:
        if self.deadline is None:
            return max(0.0, self.remaining_s or 0.0)
        return max(0.0, self.deadline - now)


@dataclass
class AlarmRow:
    """One alarm as stored."""

    id: str
    hour: int
    minute: int
    recurrence: str
    next_at: float
    ringing_since: float | None
    created: float


@dataclass
class FactRow:
    """One remembered fact."""

    id: int
    subject: str
    fact: str
    created: float


def new_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


class Store:
    """The dialogue service's SQLite database. Not thread-safe: use it from the event loop only."""

    def __init__(self, path: Path) -> None:
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # One connection, used by the event loop and (for COMMIT only) by a worker thread, under a lock.
        self._db = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                   check_same_thread=False)
        self._lock = threading.RLock()
        self._defer = False
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: a committed timer survives a power cut, not only a crash; writes are tiny.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    @classmethod
    def open(cls, state_dir: Path) -> "Store":
        return cls(state_dir / DB_FILE)

    def close(self) -> None:
        with self._lock:
            self.commit()
            self._db.close()

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """Collect the writes made inside into one transaction, committed later by commit()."""
        self._defer = True
        try:
            yield
        finally:
            self._defer = False

    def commit(self) -> None:
        """Make the collected writes durable (may run on a worker thread)."""
        with self._lock:
            if self._db.in_transaction:
                self._db.execute("COMMIT")

    def _write(self, sql: str, parameters: tuple = ()) -> sqlite3.Cursor:
        with self._lock:
            if not self._db.in_transaction:
                self._db.execute("BEGIN")
            cursor = self._db.execute(sql, parameters)
            if not self._defer:
                self._db.execute("COMMIT")
            return cursor

    def _read(self, sql: str, parameters: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, parameters).fetchall()

    # --- timers ---------------------------------------------------------------------------------

    def timers(self) -> list[TimerRow]:
        rows = self._read("SELECT * FROM timers ORDER BY created")
        return [TimerRow(**dict(row)) for row in rows]

    def save_timer(self, timer: TimerRow) -> None:
        self._write(
            "INSERT OR REPLACE INTO timers VALUES (?, ?, ?, ?, ?, ?, ?)",
            (timer.id, timer.name, timer.duration_s, timer.deadline, timer.remaining_s,
             timer.ringing_since, timer.created),
        )

    def delete_timer(self, timer_id: str) -> None:
        self._write("DELETE FROM timers WHERE id = ?", (timer_id,))

    # --- alarms ---------------------------------------------------------------------------------

    def alarms(self) -> list[AlarmRow]:
        rows = self._read("SELECT * FROM alarms ORDER BY next_at")
        return [AlarmRow(**dict(row)) for row in rows]

    def save_alarm(self, alarm: AlarmRow) -> None:
        self._write(
            "INSERT OR REPLACE INTO alarms VALUES (?, ?, ?, ?, ?, ?, ?)",
            (alarm.id, alarm.hour, alarm.minute, alarm.recurrence, alarm.next_at,
             alarm.ringing_since, alarm.created),
        )

    def delete_alarm(self, alarm_id: str) -> None:
        self._write("DELETE FROM alarms WHERE id = ?", (alarm_id,))

    # --- memory ---------------------------------------------------------------------------------

    def facts(self) -> list[FactRow]:
        rows = self._read("SELECT * FROM memory ORDER BY id")
        return [FactRow(**dict(row)) for row in rows]

    def add_fact(self, subject: str, fact: str) -> int:
        cursor = self._write(
            "INSERT INTO memory (subject, fact, created) VALUES (?, ?, ?)", (subject, fact, time.time())
        )
        return int(cursor.lastrowid or 0)

    def delete_fact(self, fact_id: int) -> None:
        self._write("DELETE FROM memory WHERE id = ?", (fact_id,))

    def delete_all_facts(self) -> int:
        return self._write("DELETE FROM memory").rowcount

    # --- small settings -------------------------------------------------------------------------

    def value(self, key: str, default: str | None = None) -> str | None:
        rows = self._read("SELECT value FROM kv WHERE key = ?", (key,))
        return rows[0]["value"] if rows else default

    def set_value(self, key: str, value: str | None) -> None:
        if value is None:
            self._write("DELETE FROM kv WHERE key = ?", (key,))
        else:
            self._write("INSERT OR REPLACE INTO kv VALUES (?, ?)", (key, value))
