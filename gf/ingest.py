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
from gf.errors import LoadError
from gf.params import validate_results

#: The run fields a results line carries (besides ``uid``, ``group_uid`` and ``results``).
FIELDS = ("group_id", "dataset", "family", "label", "started", "stopped", "status", "host", "process_id",
          "command", "error", "launch")


def append(path, run, rows):
    """Append one run (validated ``rows``) to the results file at ``path``; return its ULID.

    The line is written with one ``write`` under an exclusive lock, so concurrent
    writers never interleave lines.
    """
    import fcntl

    uid = store.new_ulid()
    line = json.dumps({"gf_run": 1, "uid": uid, **run,
                       "results": [[algo, name, value] for algo, name, value in rows]}) + "\n"
    with open(path, "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.write(line)
        handle.flush()
        os.fsync(handle.fileno())
    return uid


def read(path):
    """Parse and validate a results file: ``[(line_number, run, rows)]``.

    :raises LoadError: ``FILE:LINE: what is wrong`` for the first bad line.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as error:
        raise LoadError(path, 0, f"cannot read results file: {getattr(error, 'strerror', None) or error}") from None
    parsed = []
    lines = text.split("\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        unfinished = number == len(lines) and not text.endswith("\n")
        parsed.append((number, *_parse_line(path, number, line, unfinished)))
    return parsed


def _parse_line(path, number, line, unfinished):
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        hint = " (an unfinished last line: did a writer die mid-write? remove the line)" if unfinished else ""
        raise LoadError(path, number, f"not a JSON line: {error.msg}{hint}") from None
    if not isinstance(record, dict) or record.get("gf_run") != 1 or not isinstance(record.get("uid"), str):
        raise LoadError(path, number, "not a gf results line (written by report() with GF_RESULTS set)")
    if not isinstance(record.get("group_id"), int) or record.get("status") not in ("ok", "failed"):
        raise LoadError(path, number, "a results line needs an integer group_id and a status of ok or failed")
    if not isinstance(record.get("started"), str) or not record["started"]:
        raise LoadError(path, number, "a results line needs its start time (started)")
    results = record.get("results")
    if not isinstance(results, list) or not all(isinstance(row, list) and len(row) == 3 for row in results):
        raise LoadError(path, number, "results must be a list of [algo, name, value] rows")
    nested = {}
    for algo, name, value in results:
        if not isinstance(algo, str) or not isinstance(name, str):
            raise LoadError(path, number, f"result names must be strings, got {algo!r}.{name!r}")
        if value is None:
            continue
        nested.setdefault(algo, {})[name] = value
    try:
        rows = validate_results(nested)
    except ValueError as error:
        raise LoadError(path, number, str(error)) from None
    rows += [(algo.lower(), name.lower(), None) for algo, name, value in results if value is None]
    run = {field: record.get(field) for field in FIELDS}
    run["uid"] = record["uid"]
    return run, rows


def ingest(conn, paths, db_path=""):
    """Record every run of ``paths`` not recorded yet, in one transaction.

    :returns: ``{"runs": added, "skipped": already_there, "results": rows_added}``.
    """
    parsed = [(str(path), *item) for path in paths for item in read(path)]
    known_groups = set(store.group_ids(conn))
    for path, number, run, _rows in parsed:
        if run["group_id"] not in known_groups:
            raise LoadError(path, number, f"group {run['group_id']} does not exist in {db_path or 'the database'}")
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
