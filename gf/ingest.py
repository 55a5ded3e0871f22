"""Results from anywhere: runs written to a results file (``GF_RESULTS``), recorded later.

An evaluation started by hand, by GNU parallel or by a cluster scheduler may not be
allowed to write the database (a shared file system, many nodes at once). With
``GF_RESULTS=path`` its ``report()`` appends one JSON line per run to that file, and
``gf ingest FILE...`` records them with the same validation as ``report()``, in one
transaction, skipping runs already recorded (each line carries the run's ULID).
"""

import json
import os

from gf import store
from gf.errors import LoadError, StoreError
from gf.params import validate_results

#: The run fields a results line carries (besides ``uid``, ``group_digest`` and ``results``).
FIELDS = ("group_id", "dataset", "family", "label", "started", "stopped", "status", "host", "process_id",
          "command", "error", "launch")


def append(path, run, rows, group_digest=None):
    """Append one run (validated ``rows``) to the results file at ``path``; return its ULID.

    The line carries the group's digest (a hash of its values), so ``gf ingest`` into a
    database whose group of that id holds other values is refused. It is written under an
    exclusive lock, so concurrent writers never interleave lines; a write that fails (a
    full disk) is cut back off, and a line cut short by a writer that died is ended first,
    so one failed writer never spoils the next run's line: the line after it says so
    (``"after_cut": true``), and :func:`read` skips the cut one.
    """
    uid = store.new_ulid()
    digest = {"group_digest": group_digest} if group_digest else {}
    record = {"gf_run": 1, "uid": uid, **run, **digest, "results": [[algo, name, value] for algo, name, value in rows]}
    try:
        _append_line(path, record)
        return uid
    except OSError as error:  # the program's report() raises this: one line, not an OSError's traceback
        raise StoreError(f"GF_RESULTS={path}: cannot write the results file ({error.strerror or error}); "
                         "point GF_RESULTS at a file in a writable folder with free space") from None


def _append_line(path, record):
    """Write ``record`` as one line at the end of ``path``, under an exclusive lock."""
    import fcntl

    # unbuffered: a buffered file would retry what it still holds when closed, after the cut
    with open(path, "a+b", buffering=0) as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        size = os.fstat(handle.fileno()).st_size
        if size >= len(SQLITE_HEADER) and os.pread(handle.fileno(), len(SQLITE_HEADER), 0) == SQLITE_HEADER:
            # a line appended to a database is overwritten by its next write: the run would be lost unseen
            raise StoreError(f"GF_RESULTS={path}: a SQLite database (the gf database itself?), not a results "
                             "file; point GF_RESULTS at a file of its own, e.g. results.jsonl")
        if size and os.pread(handle.fileno(), 1, size - 1) != b"\n":  # a writer died mid-line: end it, say so
            # first in the line, so that even this line cut short still says so (see :func:`read`)
            data = b"\n" + json.dumps({"after_cut": True, **record}).encode() + b"\n"
        else:
            data = json.dumps(record).encode() + b"\n"
        try:
            written = 0
            while written < len(data):
                written += handle.write(data[written:])
            os.fsync(handle.fileno())
        except BaseException:
            try:
                os.ftruncate(handle.fileno(), size)
            except OSError:
                pass  # the write's own error says more
            raise


#: How every SQLite database file begins.
SQLITE_HEADER = b"SQLite format 3\x00"


def read(path, torn=None):
    """Parse and validate a results file: ``[(line_number, run, rows)]``.

    A line cut short by a writer that died mid-write, which the next writer ended (its own line
    says ``"after_cut": true``), is skipped when it is not a whole line: its run was never
    recorded (its ``report()`` did not return); its number is added to the list ``torn``. Any
    other broken line is refused; so is an unfinished last line, which may still be being written.

    :raises LoadError: ``FILE:LINE: what is wrong`` for the first bad line.
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise LoadError(path, 0, f"cannot read results file: {error.strerror or error}") from None
    if data.startswith(SQLITE_HEADER):
        raise LoadError(path, 0, "a SQLite database, not a results file (the JSON lines report() writes with "
                                 "GF_RESULTS set); to combine gf databases, use gf merge")
    try:
        text = data.decode("utf-8-sig")  # a byte order mark an editor added is no fault
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise LoadError(path, line, f"not a text file: byte 0x{data[error.start]:02x} is not UTF-8; a results file "
                                    "holds the JSON lines report() writes with GF_RESULTS set") from None
    parsed = []
    lines = text.split("\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        unfinished = number == len(lines) and not text.endswith("\n")
        try:
            parsed.append((number, *_parse_line(path, number, line, unfinished)))
        except LoadError:
            if number < len(lines) and _after_cut(lines[number]):  # the next line says this one was cut
                if torn is not None:
                    torn.append(number)
                continue
            raise
    return parsed


#: How a line :func:`append` wrote right after ending a line another writer left cut begins.
AFTER_CUT = '{"after_cut": true, '


def _after_cut(line):
    """Whether ``line`` is one :func:`append` wrote right after ending a line another writer left cut: it begins
    with :data:`AFTER_CUT` (or is cut short inside it). A line of an earlier gf of this kind has the mark last."""
    if line.startswith(AFTER_CUT) or (line and AFTER_CUT.startswith(line)):
        return True
    try:
        record = json.loads(line)
    except ValueError:
        return False
    return isinstance(record, dict) and record.get("after_cut") is True


def _parse_line(path, number, line, unfinished):
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        hint = " (an unfinished last line: did a writer die mid-write? remove the line)" if unfinished else ""
        if line.count('{"gf_run"') > 1:  # a writer died mid-line and another appended after it
            cut = line.index('{"gf_run"', 1)
            hint = (f" (two lines run together at character {cut + 1}: a writer died mid-line and another wrote "
                    "after it; put a line break before that second {\"gf_run\" and remove the cut line before it)")
        raise LoadError(path, number, f"not a JSON line: {error.msg}{hint}") from None
    if not isinstance(record, dict) or record.get("gf_run") != 1 or not isinstance(record.get("uid"), str):
        raise LoadError(path, number, "not a gf results line (written by report() with GF_RESULTS set)")
    if not store.is_ulid(record["uid"]):
        raise LoadError(path, number, f"uid must be the run's ULID (26 characters of Crockford base32, as report() "
                                      f"writes them), got {json.dumps(record['uid'])[:40]}")
    group = record.get("group_id")
    if (not isinstance(group, int) or isinstance(group, bool) or not 0 < group < 2**63
            or record.get("status") not in ("ok", "failed")):
        raise LoadError(path, number, "a results line needs an integer group_id and a status of ok or failed")
    if not isinstance(record.get("started"), str) or not record["started"]:
        raise LoadError(path, number, "a results line needs its start time (started)")
    results = record.get("results")
    if not isinstance(results, list) or not all(isinstance(row, list) and len(row) == 3 for row in results):
        raise LoadError(path, number, "results must be a list of [algo, name, value] rows")
    nested, unscored = {}, set()
    for algo, name, value in results:
        if not isinstance(algo, str) or not isinstance(name, str):
            raise LoadError(path, number, f"result names must be strings, got {algo!r}.{name!r}")
        if name in nested.get(algo, {}):
            raise LoadError(path, number, f"result {algo}.{name} is given twice")
        if value is None:  # a NaN report() stored as null: its names are checked all the same
            unscored.add((algo.lower(), name.lower()))
        nested.setdefault(algo, {})[name] = 0 if value is None else value
    try:
        rows = validate_results(nested)
    except ValueError as error:
        raise LoadError(path, number, str(error)) from None
    rows = [(algo, name, None if (algo, name) in unscored else value) for algo, name, value in rows]
    run = {field: record.get(field) for field in FIELDS}
    for field, kinds in FIELD_TYPES.items():
        if run[field] is not None and (not isinstance(run[field], kinds) or isinstance(run[field], bool)):
            raise LoadError(path, number, f"{field} must be {FIELD_WORDS[field]}, got {json.dumps(run[field])[:40]}")
    for field in ("started", "stopped"):
        if run[field] is not None and not store.is_time(run[field]):
            raise LoadError(path, number, f"{field} must be an ISO 8601 time such as 2026-01-31T09:30:00.000+00:00 "
                                          f"(as report() writes it), got {json.dumps(run[field])[:40]}")
    if run["process_id"] is not None and not 0 <= run["process_id"] < 2**63:
        raise LoadError(path, number, f"process_id must be a process id, got {run['process_id']}")
    run["uid"] = record["uid"]
    digest = record.get("group_digest")
    run["group_digest"] = digest if isinstance(digest, str) else None
    return run, rows


def _identity(run):
    """What tells two runs of the same uid apart: its dataset, start time and status (not its group id,
    which ``gf merge`` may have renumbered)."""
    return run["dataset"], run["started"], run["status"]


def _difference(one, other):
    """Which of :func:`_identity`'s fields differ, as ``dataset ("a" there, "b" here)`` (``one`` is there)."""
    return ", ".join(f"{field} ({json.dumps(a)} there, {json.dumps(b)} here)"
                     for field, a, b in zip(("dataset", "start time", "status"), one, other) if a != b)


def _same_run(first, path, number, run):
    """Refuse a line carrying the uid of an earlier line (``first``: its path, line and identity) with another run."""
    where, line, identity = first
    if (where, line) != (path, number) and identity != _identity(run):
        raise LoadError(path, number, f"run {run['uid']} is also on {where}:{line}, with another "
                                      f"{_difference(identity, _identity(run))}: each run needs a uid of its own "
                                      "(report() writes a new one for each)")


#: What each run field of a results line must be (``None`` is allowed for all but group_id and status).
FIELD_TYPES = {"dataset": str, "family": str, "label": str, "started": str, "stopped": str, "host": str,
               "process_id": int, "command": str, "error": str, "launch": str}
FIELD_WORDS = {field: "a whole number" if kinds is int else "a string" for field, kinds in FIELD_TYPES.items()}


def ingest(conn, paths, db_path="", torn=None):
    """Record every run of ``paths`` not recorded yet, in one transaction.

    :param torn: a list that gets ``(path, line number)`` of each line cut short by a writer
        that died mid-write, skipped (see :func:`read`).
    :returns: ``{"runs": added, "skipped": already_there, "results": rows_added}``.
    """
    parsed = []
    for path in paths:
        cut = []
        parsed += [(str(path), *item) for item in read(path, cut)]
        if torn is not None:
            torn += [(str(path), number) for number in cut]
    digests = dict(conn.execute("SELECT id, digest FROM groups"))
    first = {}  # uid -> (path, line, what identifies the run) of the first line carrying it
    for path, number, run, _rows in parsed:
        _same_run(first.setdefault(run["uid"], (path, number, _identity(run))), path, number, run)
        recorded = conn.execute("SELECT dataset, started, status FROM runs WHERE uid = ?", (run["uid"],)).fetchone()
        if recorded:
            if tuple(recorded) != _identity(run):
                raise LoadError(path, number, f"run {run['uid']} is recorded in {db_path or 'the database'} already, "
                                              f"with another {_difference(tuple(recorded), _identity(run))}: each run "
                                              "needs a uid of its own (report() writes a new one for each)")
            run.pop("group_digest")
            continue  # recorded before (here, or in a database merged into this one): skipped below
        if run["group_id"] not in digests:
            raise LoadError(path, number, f"group {run['group_id']} does not exist in {db_path or 'the database'}")
        wanted = run.pop("group_digest")
        if wanted and digests[run["group_id"]] and wanted != digests[run["group_id"]]:
            raise LoadError(path, number, f"group {run['group_id']} of {db_path or 'the database'} holds other values "
                                          "than the group this run was of: ingest it into the database the program "
                                          "read its parameters from")
    added = skipped = results = 0
    with store.transaction(conn):
        seen = set()
        for _path, _number, run, rows in parsed:
            exists = conn.execute("SELECT 1 FROM runs WHERE uid = ?", (run["uid"],)).fetchone()
            if exists or run["uid"] in seen:
                skipped += 1
                continue
            seen.add(run["uid"])
            store.insert_run(conn, run, rows)
            added += 1
            results += len(rows)
    return {"runs": added, "skipped": skipped, "results": results}
