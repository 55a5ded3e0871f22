"""The SQLite store: schema, migrations, and the reads and writes everything else uses.

One database file holds parameter groups, their params and constraints, runs and
their results. The schema is created and migrated with ``sqlite_utils.Migrations``;
``PRAGMA user_version`` carries the schema version so that opening a database
costs one pragma when it is current, and a database written by a newer gf is
refused with a clear message instead of being misread.

Connections are opened in autocommit mode (``isolation_level=None``) and every
write is an explicit ``BEGIN IMMEDIATE ... COMMIT``: a write either lands whole
or not at all, and concurrent writers queue on the busy timeout instead of
failing halfway through a transaction.

Only the standard library is imported here at module level: a user's program
opens the store once per evaluation, and sqlite-utils (which may pull in numpy)
is needed only when a database is created or migrated.
"""

import contextlib
import datetime
import os
import sqlite3
import time

from gf.errors import GroupNotFound, StoreError

#: Bump with every migration; a database with a higher version is refused.
SCHEMA_VERSION = 6

#: Seconds a connection waits for another writer before giving up.
BUSY_TIMEOUT = 60.0

DEFAULT_DB = "gf.db"

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_ulid():
    """A ULID: 48 bits of milliseconds then 80 random bits, 26 Crockford base32 chars.

    Sorted by creation time, unique across machines: what `gf merge` matches on.
    """
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def is_ulid(text):
    """Whether ``text`` is a ULID as :func:`new_ulid` writes them: 26 Crockford base32 characters
    (upper case, no I, L, O or U), the first at most 7 (a 128-bit number)."""
    return (isinstance(text, str) and len(text) == 26 and text[0] <= "7"
            and all(char in _CROCKFORD for char in text))


def is_time(text):
    """Whether SQLite's date functions read ``text`` as a time (``2026-01-31``, ``2026-01-31T09:30:00.000+00:00``,
    ``...Z``): what a run's start and stop must be, for the views and reports that compute with them."""
    # a date first: SQLite also reads "now" (a time that changes on every read) and bare day numbers
    if not isinstance(text, str) or not (len(text) >= 10 and text[:4].isdigit() and text[4] == "-"):
        return False
    import _thread  # built in: no import time for a program that never asks

    clock = _CLOCKS.get(_thread.get_ident())
    if clock is None:  # one per thread, kept: a results file's every line asks
        clock = _CLOCKS[_thread.get_ident()] = sqlite3.connect(":memory:")
    try:
        return clock.execute("SELECT julianday(?) IS NOT NULL", (text,)).fetchone()[0] == 1
    except UnicodeEncodeError:  # a lone surrogate: no text SQLite can hold
        return False


#: An in-memory connection per thread for :func:`is_time`.
_CLOCKS = {}


def now():
    """The current UTC time as ISO 8601 text with milliseconds (SQLite date functions read it)."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


def _migrations():
    """The migration set, built on demand so sqlite-utils stays off the import path."""
    from sqlite_utils import Migrations

    migrations = Migrations("gf")

    @migrations()
    def m001_initial(db):
        # The whole first schema: groups with a small id for people and a ULID for
        # merging, params as the seed's (param, name) pairs, runs and the seed's
        # results(run, algo, name, value), plus views that keep the seed's SQL working.
        for statement in _M001:
            db.execute(statement)

    @migrations()
    def m002_browsing_views(db):
        # Named views for the questions people ask of a database in sqlite3 or Datasette
        # (best groups per dataset, lineage, failures), so nobody has to write the SQL.
        for statement in _M002:
            db.execute(statement)

    @migrations()
    def m003_launches(db):
        # Launches handed out by a coordinator. A resumed loop abandons the launches a
        # dead coordinator left pending, and a program whose launch was abandoned does
        # not record its run: nothing is evaluated twice, however a coordinator died.
        db.execute("""CREATE TABLE launches (
            uid TEXT PRIMARY KEY,
            group_id INTEGER NOT NULL REFERENCES groups(id),
            dataset TEXT,
            created TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('pending', 'done', 'abandoned'))
        )""")
        db.execute("CREATE INDEX launches_pending ON launches (status, group_id, dataset)")

    @migrations()
    def m004_results_best_first(db):
        # Ranking the top N groups reads one result of one algo best value first and stops
        # after N groups, instead of aggregating every run of the dataset (see gf.metrics).
        # The index is on the expressions +name, +algo, +value, not the columns: only a
        # query written with them can use it, so the plans of every other query over
        # results (gf's own, the views, plugins' and users' SQL) stay as they were, with or
        # without ANALYZE. On plain (name, value) columns SQLite picked it for such queries
        # and some got 10-30x slower. (Not a partial index WHERE value IS NOT NULL either:
        # SQLite then scans it instead of the table for queries that exclude NULLs.)
        db.execute(f"CREATE INDEX {BEST_FIRST_INDEX} ON results (+name, +algo, +value)")

    @migrations()
    def m005_loop_progress(db):
        # What a breed loop has seen, kept across the commands that resume it: the best score
        # after generation `counted`, how many generations in a row did not beat it (for
        # --patience), and why the loop ended early, if it did (for `gf loops`); and the
        # process running it, so a second gf does not run the same loop at once and a loop
        # whose gf died shows as interrupted.
        db.execute("ALTER TABLE loops ADD COLUMN best REAL")
        db.execute("ALTER TABLE loops ADD COLUMN stale INTEGER NOT NULL DEFAULT 0")
        db.execute("ALTER TABLE loops ADD COLUMN counted INTEGER NOT NULL DEFAULT 0")
        db.execute("ALTER TABLE loops ADD COLUMN reason TEXT")
        db.execute("ALTER TABLE loops ADD COLUMN host TEXT")
        db.execute("ALTER TABLE loops ADD COLUMN process_id INTEGER")
        db.execute("ALTER TABLE loops ADD COLUMN process_start INTEGER")

    @migrations()
    def m006_launch_owner(db):
        # The gf that handed a launch out, so that a second gf on the same database (two
        # `gf run` at once) leaves the pairs a live gf is evaluating to it, instead of taking
        # them over as if it had died (the first then discarded their runs).
        db.execute("ALTER TABLE launches ADD COLUMN host TEXT")
        db.execute("ALTER TABLE launches ADD COLUMN process_id INTEGER")
        db.execute("ALTER TABLE launches ADD COLUMN process_start INTEGER")

    return migrations


#: The index of migration m004: results of one name and algo in value order.
BEST_FIRST_INDEX = "results_best_first"


_M001 = [
    # One row per `gf breed` loop, so an interrupted loop can be found and resumed.
    """CREATE TABLE loops (
        id INTEGER PRIMARY KEY,
        uid TEXT NOT NULL UNIQUE,
        key TEXT NOT NULL,
        args TEXT NOT NULL,
        started TEXT NOT NULL,
        stopped TEXT,
        target INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('running', 'done', 'stopped'))
    )""",
    "CREATE INDEX loops_key ON loops (key, status)",
    """CREATE TABLE groups (
        id INTEGER PRIMARY KEY,
        uid TEXT NOT NULL UNIQUE,
        created TEXT NOT NULL,
        origin TEXT NOT NULL,
        generation INTEGER,
        breeder TEXT,
        loop_id INTEGER REFERENCES loops(id),
        digest TEXT
    )""",
    "CREATE INDEX groups_loop ON groups (loop_id, generation)",
    # A fingerprint of the params, so breeding refuses a child identical to any group.
    "CREATE INDEX groups_digest ON groups (digest)",
    """CREATE TABLE group_parents (
        group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
        parent_id INTEGER NOT NULL REFERENCES groups(id),
        position INTEGER NOT NULL,
        PRIMARY KEY (group_id, parent_id)
    )""",
    # value: the JSON that breeding works on (a _choice keeps its whole list);
    # typed: the JSON the program reads, computed once by the type's extract hook
    # when the group is written, so reading a group needs no plugin at all.
    """CREATE TABLE params (
        group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
        param TEXT NOT NULL,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        type TEXT NOT NULL,
        typed TEXT NOT NULL,
        PRIMARY KEY (group_id, param, name)
    ) WITHOUT ROWID""",
    """CREATE TABLE constraints (
        group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        lhs TEXT NOT NULL,
        op TEXT NOT NULL CHECK (op IN ('<', '<=', '>', '>=')),
        rhs TEXT NOT NULL,
        PRIMARY KEY (group_id, position)
    )""",
    """CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        uid TEXT NOT NULL UNIQUE,
        group_id INTEGER NOT NULL REFERENCES groups(id),
        dataset TEXT,
        family TEXT,
        label TEXT,
        started TEXT NOT NULL,
        stopped TEXT,
        status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
        host TEXT,
        process_id INTEGER,
        command TEXT,
        exit_code INTEGER,
        error TEXT,
        launch TEXT
    )""",
    # A launcher gives each evaluation a launch id (GF_LAUNCH) to find the run it recorded.
    "CREATE INDEX runs_launch ON runs (launch)",
    "CREATE INDEX runs_group_dataset ON runs (group_id, dataset)",
    "CREATE INDEX runs_dataset_status ON runs (dataset, status)",
    # The seed's own columns. NUMERIC keeps 3 as 3 (the seed's output) and 2.5 as
    # 2.5; NULL is a NaN or an infinity. A rowid table, so a plain SELECT lists
    # results in the order the program reported them, as the seed did.
    """CREATE TABLE results (
        run INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        algo TEXT NOT NULL,
        name TEXT NOT NULL,
        value NUMERIC
    )""",
    "CREATE UNIQUE INDEX results_run_algo_name ON results (run, algo, name)",
    # Which params each inner algo of the user's program uses (`gf tag`): patterns.
    """CREATE TABLE tags (
        algo TEXT NOT NULL,
        pattern TEXT NOT NULL,
        PRIMARY KEY (algo, pattern)
    )""",
    """CREATE VIEW param_meta AS
        SELECT g.id AS pid, g.created AS generated,
               (SELECT group_concat(parent_id, ',') FROM
                   (SELECT parent_id FROM group_parents p
                    WHERE p.group_id = g.id ORDER BY position)) AS parents
        FROM groups g""",
    """CREATE VIEW run_meta AS
        SELECT id AS run, group_id AS pid, started AS start, stopped AS stop,
               family, dataset
        FROM runs""",
]

_M002 = [
    # Every group's best and worst value of every result, per dataset: filter by name.
    """CREATE VIEW group_scores AS
        SELECT r.dataset, r.group_id, res.algo, res.name,
               max(res.value) AS best, min(res.value) AS worst, count(*) AS runs
        FROM runs r JOIN results res ON res.run = r.id
        WHERE r.status = 'ok' AND res.value IS NOT NULL
        GROUP BY r.dataset, r.group_id, res.algo, res.name""",
    # For every dataset, algo and result name: the group with the highest value.
    """CREATE VIEW best_groups AS
        SELECT dataset, algo, name, group_id, max(best) AS best
        FROM group_scores GROUP BY dataset, algo, name""",
    # Every ancestor of every group, with how many generations back it is.
    """CREATE VIEW lineage AS
        WITH RECURSIVE up(group_id, ancestor_id, depth) AS (
            SELECT group_id, parent_id, 1 FROM group_parents
            UNION
            SELECT up.group_id, p.parent_id, up.depth + 1
            FROM up JOIN group_parents p ON p.group_id = up.ancestor_id
            WHERE up.depth < 1000
        )
        SELECT group_id, ancestor_id, min(depth) AS depth FROM up GROUP BY group_id, ancestor_id""",
    """CREATE VIEW failures AS
        SELECT r.id AS run, r.group_id, r.dataset, r.started, r.exit_code, r.error, r.command, r.host
        FROM runs r WHERE r.status = 'failed'""",
]

_OUR_TABLES = {"_sqlite_migrations"}


def connect(path=DEFAULT_DB, *, create=True, missing=None):
    """Open (and, with ``create``, create or migrate) the gf database at ``path``.

    ``missing`` is what to do about a missing file (without ``create``), when not to create it with
    gf load or point GF_DB at another (a command's input database, given by path).

    :raises StoreError: the file is missing (without ``create``), is not SQLite,
        is another program's database, or was written by a newer gf.
    """
    path = os.fspath(path)
    if not str(path).strip():  # sqlite3 would open a temporary database, deleted on close: every write lost
        from gf.errors import InputError

        raise InputError("the database path is empty; pass --db FILE or set GF_DB to a file")
    exists = os.path.exists(path)
    if not exists and not create:
        raise StoreError(f"{path}: no such database; " + (
            missing or f"create one with `gf load FILE --db {path}` or point GF_DB at an existing file"))
    try:
        conn, version = _open(path, exists)
    except sqlite3.DatabaseError as error:
        raise StoreError(f"{path}: {_why_not_open(path, exists, error)} ({error})") from None
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        # In WAL mode NORMAL never corrupts the file and survives any process crash; a
        # power cut may lose the last commits (re-evaluated on resume). FULL would fsync
        # every run and make many concurrent writers several times slower.
        conn.execute("PRAGMA synchronous = NORMAL")
        version = _refuse_foreign(conn, path, version)  # before anything is written: another program's file stays
        if version != SCHEMA_VERSION:
            _upgrade(conn, path, version)
    except sqlite3.DatabaseError as error:
        conn.close()
        raise StoreError(f"{path}: {_why_not_open(path, exists, error)} ({error})") from None
    except BaseException:
        conn.close()
        raise
    return conn


def remove_database(path):
    """Delete the database file at ``path`` with its ``-wal`` and ``-shm`` (one a failed command created)."""
    for suffix in ("", "-wal", "-shm"):
        try:
            os.remove(os.fspath(path) + suffix)
        except OSError:
            pass


def _why_not_open(path, exists, error):
    """What went wrong opening ``path``, and what to do, for :func:`connect`'s one line."""
    text = str(error).lower()
    folder = os.path.dirname(os.path.abspath(path))
    if "unable to open" in text and not exists:
        if os.path.exists(folder) and not os.path.isdir(folder):
            return f"cannot create it: {folder} is a file, not a folder"
        if not os.path.isdir(folder):
            return f"cannot create it: the folder {folder} does not exist"
        return f"cannot create it: the folder {folder} is not writable"
    if "unable to open" in text and os.path.isdir(path):
        return "it is a folder; give the database file's path (e.g. gf.db in it)"
    if "unable to open" in text:
        return "cannot open it: check the file's permissions"
    if "locked" in text or "busy" in text:
        return (f"locked by another process for over {BUSY_TIMEOUT:g} s (a long write, or a program holding a "
                "transaction open); try again once it is done")
    return "not a usable SQLite database"


class Connection(sqlite3.Connection):
    """A gf database connection; ``file`` is the ``(device, inode)`` of the file it opened (see
    :func:`require_same_file`)."""

    file = None


def require_same_file(conn):
    """Raise :class:`StoreError` if the file ``conn`` opened was deleted or replaced since: gf
    would go on writing into a file no path reaches any more, and lose all of it."""
    opened = getattr(conn, "file", None)  # None: not opened by :func:`connect`
    if opened is None:
        return
    path = path_of(conn)
    try:
        now = os.stat(path)
    except FileNotFoundError:
        raise StoreError(f"{path}: the database file was deleted while gf had it open; what gf recorded since "
                         "is lost with it. Restore the file (or start again) and rerun") from None
    if (now.st_dev, now.st_ino) != opened:
        raise StoreError(f"{path}: the database file was replaced while gf had it open; what gf recorded since "
                         "went to the old file. Rerun on the new one") from None


def _open(path, exists):
    """``(connection, schema version)``; on read-only storage the file is opened immutable."""
    conn = _opened(sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None, factory=Connection), path)
    try:
        return conn, conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.OperationalError as error:
        folder = os.path.dirname(os.path.abspath(path))
        read_only = "unable to open" in str(error) or "readonly" in str(error)
        if not exists or not read_only or os.access(folder, os.W_OK) and os.access(path, os.W_OK):
            conn.close()
            raise
    # A WAL database in a read-only folder cannot get its -shm file: read it as an
    # immutable snapshot (programs reading parameters from read-only shared storage).
    import pathlib

    conn.close()
    conn = _opened(sqlite3.connect(pathlib.Path(path).absolute().as_uri() + "?immutable=1", uri=True,
                                   timeout=BUSY_TIMEOUT, isolation_level=None, factory=Connection), path)
    return conn, conn.execute("PRAGMA user_version").fetchone()[0]


def _opened(conn, path):
    """``conn``, knowing which file it opened (a file SQLite creates now: once it exists)."""
    try:
        found = os.stat(path)
        conn.file = (found.st_dev, found.st_ino)
    except OSError:
        pass
    return conn


def _refuse_foreign(conn, path, version):
    """The file's schema version, or :class:`StoreError` when ``path`` holds another program's tables: with
    schema version 0 (a new or empty file) any table but the migrations' own; with another, a file without
    gf's migrations and groups (another program that sets ``PRAGMA user_version`` too).

    ``version`` is the one :func:`connect` read. This gf's own needs one look for the groups table (a
    program opens its database once per evaluation); any other is read again with the tables, in one
    read transaction, as another process may have created the schema since (it would look foreign)."""
    if version == SCHEMA_VERSION and conn.execute(  # three of gf's tables: no other program has all of them
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
            "('groups', 'group_parents', '_sqlite_migrations')").fetchone()[0] == 3:
        return version
    conn.execute("BEGIN")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = {name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")}
        ours = "_sqlite_migrations" in tables and conn.execute(
            "SELECT 1 FROM _sqlite_migrations WHERE migration_set = 'gf' LIMIT 1").fetchone()
    finally:
        conn.execute("COMMIT")
    foreign = tables - _OUR_TABLES
    if version == 0 and not foreign or version != 0 and "groups" in tables and ours:
        return version
    has = f"it has tables {', '.join(sorted(foreign)[:5])}" if foreign else "it has no gf tables"
    raise StoreError(
        f"{path}: a SQLite database but not a gf one ({has}); use a new file, or for an original "
        "geneticfuckery database run `gf import-legacy`"
    )


def _upgrade(conn, path, version):
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path}: written by a newer gf (schema {version}, this gf knows {SCHEMA_VERSION}); "
            "upgrade gf (a newer checkout, then `pip install -e .` in it)"
        )
    if version and _read_only(conn):
        raise StoreError(
            f"{path}: written by an older gf (schema {version}, this gf uses {SCHEMA_VERSION}) on storage gf "
            "cannot write: open it once where it is writable, so gf can upgrade it, or work on a copy"
        )
    # WAL lets readers go on while one process writes; it is a property of the file.
    _set_wal(conn)
    # The write lock makes creation race-free: processes that open a new file at
    # the same moment queue here, and all but the first find the work done.
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version < SCHEMA_VERSION:
            from sqlite_utils import Database

            _migrations().apply(Database(conn, execute_plugins=False, recursive_triggers=False))
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _read_only(conn):
    """Whether ``conn`` cannot write its file (read-only storage: opened immutable, see :func:`_open`)."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(f"PRAGMA user_version = {int(version)}")  # a write, rolled back
    except sqlite3.OperationalError as error:
        if "readonly" in str(error) or "read-only" in str(error) or "unable to open" in str(error):
            return True
        raise
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
    return False


def _set_wal(conn):
    """Switch the file to WAL, waiting out other processes that open it at the same moment.

    Changing the journal mode needs the file to itself, and SQLite refuses at once
    (without its busy handler) when another connection holds a lock, so retry here.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT
    pause = 0.005
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.2)


#: Further attempts at the write lock when a busy timeout runs out (with back-off).
LOCK_RETRIES = 5


def path_of(conn):
    """The file ``conn`` opened (for messages)."""
    row = conn.execute("PRAGMA database_list").fetchone()
    return row[2] if row and row[2] else "the database"


#: How :func:`environment_error` begins its advice for a full disk, a read-only file, a lock that
#: never freed and a failing write: where a program's run failed with one of these in its error,
#: gf could not record it, and the pair counts as not evaluated (see :data:`EVALUATED`).
UNWRITTEN = {
    "full": "the disk is full or the file reached its size limit;",
    "read-only": "the database is read-only;",
    "locked": "still locked by another writer after",
    "io": "could not write: a full disk, a file size limit or a failing disk;",
}
#: SQL over ``runs``: a run that evaluated its pair: not one that failed because gf could not write
#: its database (:data:`UNWRITTEN`), which ``gf run`` and a resumed loop make again.
EVALUATED = ("NOT (status = 'failed' AND ("
             + " OR ".join(f"instr(coalesce(error, ''), '{mark}') > 0" for mark in UNWRITTEN.values()) + "))")


def environment_error(conn, error):
    """A :class:`StoreError` saying what to do about a full disk, a read-only file or a lock,
    or ``None`` when ``error`` is not one of those."""
    text = str(error).lower()
    if "disk is full" in text:
        advice = f"{UNWRITTEN['full']} free space and rerun (what was recorded before is kept)"
    elif "readonly" in text or "read-only" in text:
        advice = f"{UNWRITTEN['read-only']} make the file and its folder writable, or work on a copy"
    elif "locked" in text or "busy" in text:
        advice = (f"{UNWRITTEN['locked']} {LOCK_RETRIES + 1} waits of {BUSY_TIMEOUT:g} s, with "
                  "pauses between them; is a process stuck holding it?")
    elif "disk i/o error" in text:
        advice = f"{UNWRITTEN['io']} free space or check the disk and rerun (what was recorded before is kept)"
    else:
        return None
    return StoreError(f"{path_of(conn)}: {advice} ({error})")


def _begin(conn):
    delay = 0.05
    for attempt in range(LOCK_RETRIES + 1):
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as error:
            text = str(error).lower()
            if ("locked" not in text and "busy" not in text) or attempt == LOCK_RETRIES:
                raise environment_error(conn, error) or error from None
            time.sleep(delay * (1 + os.urandom(1)[0] / 255))  # jitter, without importing random
            delay *= 2


@contextlib.contextmanager
def transaction(conn):
    """One write transaction: everything inside lands, or nothing does.

    The write lock is taken up front (``BEGIN IMMEDIATE``) and retried with back-off
    if another writer holds it past the busy timeout. A full disk, a read-only file or
    a lock that never frees becomes a one-line :class:`StoreError`.
    """
    _begin(conn)
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException as error:
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # the failure that got us here matters more
        if isinstance(error, sqlite3.OperationalError):
            raise environment_error(conn, error) or error from None
        raise


@contextlib.contextmanager
def snapshot(conn):
    """One read transaction: every read inside sees the database as the first one did (one WAL
    snapshot), whatever other processes commit meanwhile; nothing is written."""
    conn.execute("BEGIN")
    try:
        yield conn
    finally:
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # a failure that got us here matters more; closing the connection ends the read


# -- groups -------------------------------------------------------------------------


def split_name(full_name):
    """``a__b__c`` -> ``("a__b", "c")``: the seed's (param, name) pair; top-level names get ``""``."""
    param, _, name = full_name.rpartition("__")
    return param, name


def join_name(param, name):
    """The inverse of :func:`split_name`."""
    return f"{param}__{name}" if param else name


def digest(rows):
    """The fingerprint of a group: a hash of its ``(name, value_json, ...)`` rows in name order."""
    import hashlib

    canonical = "\n".join(f"{row[0]}={row[1]}" for row in sorted(rows))
    return hashlib.sha1(canonical.encode()).hexdigest()


def insert_group(conn, *, params, constraints=(), origin, parents=(), generation=None, breeder=None, loop_id=None,
                 group_id=None):
    """Insert one group inside the caller's transaction and return its id.

    :param group_id: the id to use (a scratch copy of another database's group); default: the next one.

    :param params: ``(full_name, value_json, type_name, typed_json)`` tuples.
    :param constraints: ``(lhs, op, rhs)`` tuples; ``rhs`` is a param name or a number as text.
    """
    cursor = conn.execute(
        "INSERT INTO groups (id, uid, created, origin, generation, breeder, loop_id, digest) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (group_id, new_ulid(), now(), origin, generation, breeder, loop_id, digest(params)),
    )
    group_id = cursor.lastrowid
    conn.executemany(
        "INSERT INTO group_parents (group_id, parent_id, position) VALUES (?, ?, ?)",
        [(group_id, parent, position) for position, parent in enumerate(dict.fromkeys(parents))],
    )
    conn.executemany(
        "INSERT INTO params (group_id, param, name, value, type, typed) VALUES (?, ?, ?, ?, ?, ?)",
        [(group_id, *split_name(full), value, type_name, typed) for full, value, type_name, typed in params],
    )
    conn.executemany(
        "INSERT INTO constraints (group_id, position, lhs, op, rhs) VALUES (?, ?, ?, ?, ?)",
        [(group_id, position, *constraint) for position, constraint in enumerate(constraints)],
    )
    return group_id


def group_ids(conn):
    """Every group id, ascending."""
    return [row[0] for row in conn.execute("SELECT id FROM groups ORDER BY id")]


def describe_ids(ids):
    """``[1, 2, 3, 7]`` -> ``"1-3, 7"``: short enough for an error message."""
    if not ids:
        return "none"
    spans = []
    start = previous = ids[0]
    for current in ids[1:] + [None]:
        if current is not None and current == previous + 1:
            previous = current
            continue
        spans.append(str(start) if start == previous else f"{start}-{previous}")
        start = previous = current
    return ", ".join(spans)


def require_group(conn, group_id, path):
    """Raise :class:`GroupNotFound`, listing the ids that exist, unless ``group_id`` exists (an integer
    beyond SQLite's 64 bits never does: SQLite cannot even be asked for it)."""
    if (isinstance(group_id, int) and not -(2**63) <= group_id < 2**63
            or conn.execute("SELECT 1 FROM groups WHERE id = ?", (group_id,)).fetchone() is None):
        raise GroupNotFound(
            f"group {group_id} does not exist in {path}; groups there: {describe_ids(group_ids(conn))}"
        )


def group_params(conn, group_id):
    """``[(full_name, value_json, type_name, typed_json)]`` of one group, sorted by name."""
    rows = conn.execute(
        "SELECT param, name, value, type, typed FROM params WHERE group_id = ? ORDER BY param, name",
        (group_id,),
    )
    return [(join_name(param, name), value, type_name, typed) for param, name, value, type_name, typed in rows]


def group_constraints(conn, group_id):
    """``[(lhs, op, rhs)]`` of one group, in the order they were declared."""
    return [
        tuple(row)
        for row in conn.execute(
            "SELECT lhs, op, rhs FROM constraints WHERE group_id = ? ORDER BY position", (group_id,)
        )
    ]


def group_parents(conn, group_id):
    """Parent group ids of one group, in the order the breeder gave them."""
    return [
        row[0]
        for row in conn.execute(
            "SELECT parent_id FROM group_parents WHERE group_id = ? ORDER BY position", (group_id,)
        )
    ]


def list_groups(conn):
    """Every group as a dict: id, uid, created, origin, parents, loop (the breed loop's id, or
    ``None``), generation, breeder, digest."""
    rows = conn.execute(
        """SELECT g.id, g.uid, g.created, g.origin, g.generation, g.breeder, g.loop_id, g.digest,
                  (SELECT group_concat(parent_id, ',') FROM
                      (SELECT parent_id FROM group_parents p WHERE p.group_id = g.id ORDER BY position))
           FROM groups g ORDER BY g.id"""
    )
    return [
        {
            "id": group_id,
            "uid": uid,
            "created": created,
            "origin": origin,
            "parents": [int(p) for p in parents.split(",")] if parents else [],
            "loop": loop,
            "generation": generation,
            "breeder": breeder,
            "digest": digest,
        }
        for group_id, uid, created, origin, generation, breeder, loop, digest, parents in rows
    ]


# -- runs ---------------------------------------------------------------------------


def insert_run(conn, run, results=()):
    """Insert one run and its results inside the caller's transaction; return the run id.

    :param run: a dict with the ``runs`` columns (``uid`` and times are filled in if absent).
    :param results: ``(algo, name, value)`` tuples, already validated.
    """
    row = {"uid": new_ulid(), **run}
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    run_id = conn.execute(f"INSERT INTO runs ({columns}) VALUES ({marks})", tuple(row.values())).lastrowid
    conn.executemany(
        "INSERT INTO results (run, algo, name, value) VALUES (?, ?, ?, ?)",
        [(run_id, algo, name, value) for algo, name, value in results],
    )
    return run_id


def hand_out_launches(conn, evaluations, again=False, failed=False, owner=(None, None, None), alive=None, held=None):
    """Record ``evaluations`` as pending launches in one transaction; return those to launch.

    A pair with a launch pending from another gf that ``alive(host, process_id, start)``
    says still runs is left to it. Any other launch still pending for the same (group,
    dataset) is abandoned: its coordinator is gone, and its program will not record. A
    pending launch whose program recorded its run (its gf killed before settling it) is
    marked done. Unless ``again``, a pair that got a run meanwhile (an orphan that finished
    just before; with ``failed``, a run that did not fail; never one gf could not record, see
    :data:`EVALUATED`) is dropped, under the same write lock, so no pair is evaluated twice.

    :param owner: this gf's ``(host, process id, start time)``, recorded with each launch.
    :param held: a list that gets the evaluations left to another gf.
    """
    kept = []
    already = (f"SELECT 1 FROM runs WHERE group_id = ? AND dataset IS ? AND {EVALUATED}"
               + (" AND status != 'failed'" if failed else ""))
    with transaction(conn):
        # a launch whose program recorded its run while its gf was gone (killed before it settled)
        # is done: it would otherwise stay pending for good, as no one launches that pair again
        conn.execute("UPDATE launches SET status = 'done' WHERE status = 'pending' "
                     "AND EXISTS (SELECT 1 FROM runs WHERE runs.launch = launches.uid)")
        for evaluation in evaluations:
            pair = (evaluation.group, evaluation.dataset)
            if not again and conn.execute(already + " LIMIT 1", pair).fetchone():
                continue
            if alive is not None and held_elsewhere(conn, pair, owner, alive):
                if held is not None:  # another gf, alive, is evaluating it
                    held.append(evaluation)
                continue
            conn.execute("UPDATE launches SET status = 'abandoned' "
                         "WHERE status = 'pending' AND group_id = ? AND dataset IS ?", pair)
            kept.append(evaluation)
        conn.executemany(
            "INSERT INTO launches (uid, group_id, dataset, created, status, host, process_id, process_start) "
            "VALUES (?, ?, ?, ?, 'pending', ?, ?, ?)",
            [(evaluation.launch, evaluation.group, evaluation.dataset, now(), *owner) for evaluation in kept],
        )
    return kept


def held_elsewhere(conn, pair, owner, alive):
    """Whether another gf than ``owner`` that ``alive(host, process_id, start)`` says still runs has a
    launch of ``pair`` (group, dataset) pending: it is evaluating that pair now."""
    holders = conn.execute("SELECT host, process_id, process_start FROM launches "
                           "WHERE status = 'pending' AND group_id = ? AND dataset IS ?", pair).fetchall()
    return any(tuple(holder) != tuple(owner) and alive(*holder) for holder in holders)


def launch_abandoned(conn, launch):
    """Whether ``launch`` was abandoned (inside the caller's transaction)."""
    row = conn.execute("SELECT status FROM launches WHERE uid = ?", (launch,)).fetchone()
    return row is not None and row[0] == "abandoned"


def list_runs(conn, *, group_id=None, dataset=None, last=None):
    """Runs as dicts (newest last), optionally only one group's or one dataset's, and only the ``last``
    recorded of those."""
    where, args = [], []
    if group_id is not None:
        where.append("r.group_id = ?")
        args.append(group_id)
    if dataset is not None:
        where.append("r.dataset = ?")
        args.append(dataset)
    sql = """SELECT r.id, r.group_id, r.dataset, r.label, r.status, r.started, r.stopped,
                    r.host, r.exit_code, r.error,
                    (SELECT count(*) FROM results WHERE run = r.id)
             FROM runs r"""
    if where:
        sql += " WHERE " + " AND ".join(where)
    if last is not None:  # the newest, read newest first through the primary key, then put back in order
        sql = f"SELECT * FROM ({sql} ORDER BY r.id DESC LIMIT ?) ORDER BY 1"
        args.append(last)
    else:
        sql += " ORDER BY r.id"
    keys = ("id", "group", "dataset", "label", "status", "started", "stopped", "host", "exit_code", "error", "results")
    return [dict(zip(keys, row)) for row in conn.execute(sql, args)]


def datasets(conn):
    """Every dataset some run was recorded for, in first-seen order."""
    return [
        row[0]
        for row in conn.execute(
            "SELECT dataset FROM runs WHERE dataset IS NOT NULL GROUP BY dataset ORDER BY min(id)"
        )
    ]


#: Replay states kept in a database (:func:`save_replay`): the newest; each loop saves one a generation.
REPLAY_STATES_KEPT = 8


#: The cache of the default breeder's replay states: where its replay of a loop's generations left off,
#: saved under its chain key (a hash of the code, the settings and every replayed group's digest and
#: score), so a new process (one `gf breed` per generation) resumes it instead of replaying every
#: generation from the start. Rows may be deleted at any time (the replay then starts from the start),
#: and gf merge does not copy them. The table is made when the first state is saved, not by a migration:
#: it is no part of the schema (``SCHEMA_VERSION`` stays as it was), so a gf that knows nothing of it
#: still opens the file, a program's machine running an older gf or a read-only copy included.
REPLAY_STATES_TABLE = """CREATE TABLE IF NOT EXISTS replay_states (
    key TEXT PRIMARY KEY,
    breeder TEXT NOT NULL,
    created TEXT NOT NULL,
    state TEXT NOT NULL,
    checksum TEXT NOT NULL
)"""


def saved_replays(conn, keys):
    """``{key: (breeder, state, checksum)}`` of the saved replay states among ``keys`` (see
    :data:`REPLAY_STATES_TABLE`); ``{}`` from a database without the table (it is a cache)."""
    found = {}
    keys = list(keys)
    try:
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for key, breeder, state, checksum in conn.execute(
                    f"SELECT key, breeder, state, checksum FROM replay_states WHERE key IN ({marks})", chunk):
                found[key] = (breeder, state, checksum)
    except sqlite3.Error:
        return {}
    return found


def save_replay(conn, key, breeder, state, checksum, kept=REPLAY_STATES_KEPT):
    """Save a replay state under ``key`` (replacing one there), keeping the ``kept`` newest; whether it
    was saved. A cache, so never an error: a read-only or locked file just keeps none, nor does a
    connection in a transaction of its caller's (which this must not end)."""
    if conn.in_transaction:
        return False
    try:
        with transaction(conn):
            conn.execute(REPLAY_STATES_TABLE)
            conn.execute("INSERT OR REPLACE INTO replay_states (key, breeder, created, state, checksum) "
                         "VALUES (?, ?, ?, ?, ?)", (key, breeder, now(), state, checksum))
            conn.execute("DELETE FROM replay_states WHERE rowid NOT IN "
                         "(SELECT rowid FROM replay_states ORDER BY rowid DESC LIMIT ?)", (kept,))
    except (sqlite3.Error, StoreError):
        return False
    return True
