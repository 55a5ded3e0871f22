"""Algo tags: which params each inner algo of the user's program uses (``gf tag``).

Tags are glob patterns over full parameter names (``crossover__*``), so they keep
applying to groups bred later. The default breeder uses them to take an algo's
params from the groups that scored best for that algo.
"""

import fnmatch
import json

from gf import store
from gf.errors import InputError


def read_map(path):
    """``{algo: [pattern]}`` from a JSON map file (the original merge-performers map)."""
    try:
        with open(path, encoding="utf-8-sig") as handle:  # a byte order mark an editor added is no fault
            mapping = json.load(handle)
    except OSError as error:
        raise InputError(f"{path}: cannot read: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: not a text file (byte 0x{error.object[error.start]:02x} is not UTF-8); "
                         'write the map as JSON: {"algo": ["param__name", ...]}') from None
    except json.JSONDecodeError as error:
        raise InputError(f"{path}:{error.lineno}: invalid JSON: {error.msg}") from None
    if not isinstance(mapping, dict) or not all(
        isinstance(algo, str) and isinstance(names, list) and all(isinstance(n, str) for n in names)
        for algo, names in mapping.items()
    ):
        raise InputError(f'{path}: expected {{"algo": ["param__name", ...]}}')
    return mapping


def load(conn):
    """``{algo: [pattern]}`` as recorded."""
    found = {}
    for algo, pattern in conn.execute("SELECT algo, pattern FROM tags ORDER BY algo, pattern"):
        found.setdefault(algo, []).append(pattern)
    return found


def save(conn, mapping, *, clear=False, clear_algo=None):
    """Record ``mapping`` in one transaction; return ``[(algo, pattern)]`` that match no param."""
    names = [row[0] for row in conn.execute("SELECT DISTINCT CASE param WHEN '' THEN name "
                                            "ELSE param || '__' || name END FROM params")]
    unmatched = []
    with store.transaction(conn):
        if clear:
            if clear_algo:
                conn.execute("DELETE FROM tags WHERE algo = ?", (clear_algo.lower(),))
            else:
                conn.execute("DELETE FROM tags")
        for algo, patterns in mapping.items():
            for pattern in patterns:
                pattern = pattern.lower()
                conn.execute("INSERT OR IGNORE INTO tags (algo, pattern) VALUES (?, ?)", (algo.lower(), pattern))
                if not any(fnmatch.fnmatchcase(name, pattern) for name in names):
                    unmatched.append((algo, pattern))
    return unmatched
