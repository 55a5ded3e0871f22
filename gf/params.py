"""Dot access to a parameter group, and recording what a run produced.

This module is on the path of every evaluation (a user's program imports gf,
reads its parameters, reports its results), so it imports only the standard
library and reads a group with a single query.
"""

import contextlib
import json
import math
import operator
import os
import sys

from gf import store
from gf.errors import InputError, ResultError

#: Result names that would collide with the columns gf puts beside results
#: (``gf top``, ``best()``, the results table and the seed's run_meta view).
RESERVED_RESULT_NAMES = frozenset({"run", "algo", "name", "group", "pid", "dataset", "label", "status"})


class _Group:
    """What every reader of one group shares: where it came from and its full names."""

    __slots__ = ("dbfile", "group_id", "names")

    def __init__(self, dbfile, group_id, names):
        self.dbfile = dbfile
        self.group_id = group_id
        self.names = names


class Params:
    """A read-only view of one level of a parameter group: ``node.child`` or ``node["child"]``.

    Names are case-insensitive. A sub-reader can be passed around on its own and
    cannot reach above the level it was given.
    """

    # Double underscores (mangled to _Params__...) keep every ordinary name, even
    # "_group" or "_missing", free for parameters.
    __slots__ = ("__group", "__path", "__children")

    def __init__(self, group, path, children):
        self.__group = group
        self.__path = path
        self.__children = children

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        try:
            return self.__children[name.lower()]
        except KeyError:
            raise AttributeError(_missing(self.__group, self.__path, name)) from None

    def __getitem__(self, name):
        if not isinstance(name, str):
            raise KeyError(f"parameter names are strings, not {type(name).__name__}: {name!r}")
        try:
            return self.__children[name.lower()]
        except KeyError:
            raise KeyError(_missing(self.__group, self.__path, name)) from None

    def __contains__(self, name):
        return isinstance(name, str) and name.lower() in self.__children

    def __iter__(self):
        return iter(self.__children)

    def __len__(self):
        return len(self.__children)

    def __dir__(self):
        return sorted(self.__children)

    def __repr__(self):
        where = ".".join(self.__path) or "(top)"
        return f"<gf params {where} of group {self.__group.group_id}: {', '.join(sorted(self.__children))}>"


#: The original tool's methods on ``GeneticFuckery`` gf names otherwise: an unknown parameter of that
#: name says what to call instead (a program written for it fails on the first such call).
SEED_METHODS = {
    "highest": "g.top(metric, n) (g.best(metric) for the single best group)",
    "lowest": "g.top(metric, n, minimize=True)",
    "pids": "`gf groups --json` (or SELECT id FROM groups)",
}


def _missing(group, path, name):
    """The message for an unknown name: its full path and the closest names that exist."""
    import difflib

    wanted = ".".join(path + (name.lower(),))
    close = difflib.get_close_matches(wanted, group.names, n=3, cutoff=0.6)
    hint = f"; closest: {', '.join(close)}" if close else ""
    if not path and name in SEED_METHODS:
        hint += f" (the original geneticfuckery's {name}() is {SEED_METHODS[name]} here)"
    return f"no parameter {wanted} in group {group.group_id} of {group.dbfile}{hint}"


def build_tree(dbfile, group_id, rows):
    """The root :class:`Params` of a group from ``(full_name, value)`` rows."""
    group = _Group(dbfile, group_id, [])
    root = {}
    nodes = {(): root}
    for full_name, value in rows:
        parts = tuple(full_name.split("__"))
        group.names.append(".".join(parts))
        level = root
        for depth in range(1, len(parts)):
            prefix = parts[:depth]
            child = nodes.get(prefix)
            if child is None:
                child = nodes[prefix] = {}
                level[parts[depth - 1]] = Params(group, prefix, child)
            level = child
        level[parts[-1]] = value
    return Params(group, (), root)


class Results(dict):
    """The dict ``report()`` yields: ``r[algo][name] = value``; a new algo starts as an empty dict."""

    def __missing__(self, algo):
        self[algo] = inner = {}
        return inner


def _env_group():
    value = os.environ.get("GF_PARAM_GROUP")
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise InputError(f"GF_PARAM_GROUP={value!r} is not a group id; set it to a number such as 1") from None


def _whole(name, value, what, least, optional=False, most=2**63 - 1):
    """``value`` as an int (any integer type, numpy's too; not a bool), or ``None`` if it is
    ``None`` and ``optional``; else an :class:`InputError` naming the argument ``name``."""
    if value is None and optional:
        return None
    try:
        number = None if isinstance(value, bool) else operator.index(value)
    except TypeError:
        number = None
    if number is None or not least <= number <= most:
        span = f"at least {least}" if most == 2**63 - 1 else f"from {least} to {most:,}"
        raise InputError(f"{name}={value!r}: expected a whole number of {what}, {span}"
                         + (" (or None)" if optional else ""))
    return number


class GeneticFuckery:
    """One parameter group of one database, read with dot access; and the runs it records.

    :param dbfile: the database file; default ``$GF_DB``, else ``gf.db``.
    :param pid: the parameter group id (the seed's name); default ``$GF_PARAM_GROUP``.
    :param group: the same as ``pid``, by its clearer name.
    :param dataset: what runs recorded here were evaluated on; default ``$GF_DATA``.

    With ``$GF_RESULTS`` set, runs are appended to that results file instead of the
    database (for evaluations on machines that must not write it); ``gf ingest``
    records them later.

    Attribute access reads parameters: ``g.seconds_15.stop_threshold.fast``. The
    group is read once, on first access. Parameters whose first part collides with a
    method name (``report``, ``record``...) are read as ``g["report"]``.
    """

    def __init__(self, dbfile=None, pid=None, *, group=None, dataset=None):
        self.dbfile = os.fspath(dbfile or os.environ.get("GF_DB") or store.DEFAULT_DB)
        self.group = group if group is not None else pid if pid is not None else _env_group()
        self.dataset = dataset if dataset is not None else os.environ.get("GF_DATA")
        self.family = os.environ.get("GF_FAMILY")
        self.__conn = None
        self.__params = None
        self.__read = None  # the group read: ``group``, or the database's only one

    @property
    def pid(self):
        """The parameter group id, under the seed's name (the database's only group, once read, if none was
        chosen)."""
        return self.group if self.group is not None else self.__read

    @property
    def conn(self):
        """The open database connection (opened on first use)."""
        if self.__conn is None:
            self.__conn = store.connect(self.dbfile, create=False)
        return self.__conn

    @property
    def params(self):
        """The root :class:`Params` of this group, read from the database once."""
        if self.__params is None:
            group = self.group
            if group is None:  # the seed's GeneticFuckery(dbfile=...): fine while the database has one group
                ids = store.group_ids(self.conn)
                if len(ids) != 1:
                    raise InputError(
                        f"no parameter group chosen for {self.dbfile}: pass pid=N or set GF_PARAM_GROUP "
                        f"(groups there: {store.describe_ids(ids)})"
                    )
                group = ids[0]
            if isinstance(group, int) and not -(2**63) <= group < 2**63:  # pid=2**70: SQLite cannot be asked
                store.require_group(self.conn, group, self.dbfile)
            rows = self.conn.execute("SELECT param, name, typed FROM params WHERE group_id = ?", (group,))
            rows = [(store.join_name(param, name), json.loads(typed)) for param, name, typed in rows]
            if not rows:
                store.require_group(self.conn, group, self.dbfile)
            self.__params = build_tree(self.dbfile, group, rows)
            self.__read = group
        return self.__params

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__") or name.startswith("_GeneticFuckery__"):
            raise AttributeError(name)  # copy/pickle probes, and attributes not set yet
        return getattr(self.params, name)

    def __getitem__(self, name):
        return self.params[name]

    def __contains__(self, name):
        return name in self.params

    def __iter__(self):
        return iter(self.params)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self.params))

    def __repr__(self):
        return f"<GeneticFuckery {self.dbfile} group={self.pid} dataset={self.dataset}>"

    def close(self):
        """Close the database connection (it reopens on next use)."""
        if self.__conn is not None:
            self.__conn.close()
            self.__conn = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    # -- optimizing ---------------------------------------------------------------------

    def evolve(self, fn, *, metric, minimize=None, generations, datasets, population=None, breeder="default",
               top=None, jobs=1, seed=None, launcher="inprocess", scheduler=None, launcher_options=None,
               max_time=None, patience=None, progress=True):
        """Optimize in-process: ``fn(params, dataset) -> {algo: {name: number}}``, no shell at all.

        The starting groups (this reader's group, or every group in the database) are
        evaluated on ``datasets`` first; then ``generations`` generations (0: none) of
        ``population`` children (default: the breeder's choice, as ``gf breed`` without
        ``--population``) are bred from the best ``top`` groups of every dataset (default:
        a quarter of the population, at least 2; without a population, 3) and evaluated.
        ``params`` is the same dot-access reader a program gets. A seeded run with
        ``jobs=1`` is reproducible.
        ``launcher="dask"`` runs ``fn`` on dask workers (``scheduler`` address, or a
        local cluster of ``jobs`` processes); ``fn`` must then be picklable.
        ``launcher_options`` are the launcher's settings (``{name: value}``, see
        ``gf launchers list``); ``scheduler=A`` is short for ``{"scheduler": A}``.
        ``max_time`` (seconds, or ``"30m"``, ``"8h"``): breed no new generation once that
        long has passed since the call (calling ``evolve`` again with the same arguments
        goes on); ``patience``: end after that many generations in a row without a better
        best score. Why it ended early is logged, and shown by ``gf loops``. ``progress``: a line
        per generation on stderr (evaluations done, failed, best score), as `gf breed` shows.

        :returns: :meth:`best` over ``datasets`` after the last generation (its ``params``: the
            values to use).
        """
        import time

        from gf import engine, launch, metrics, plugins

        began = time.monotonic()
        if max_time is not None:
            try:
                max_time = engine.parse_duration(max_time)
            except ValueError as error:
                raise InputError(f"max_time={error}") from None
        generations = _whole("generations", generations, "generations", 0)  # 0: only score the starting groups
        population = _whole("population", population, "children per generation", 1, optional=True, most=100_000)
        patience = _whole("patience", patience, "generations", 1, optional=True)
        top = _whole("top", top, "parents per dataset", 1, optional=True)
        jobs = _whole("jobs", jobs, "evaluations at once", 1)
        chosen = metrics.resolve(metric)
        metrics.refuse_near_registered(self.conn, chosen, self.dbfile)  # before any evaluation
        given, minimize = minimize, metrics.direction(self.conn, chosen, minimize)[0]  # None: as the newest loop by it
        breeder_plugin = plugins.pick("breeder", breeder, plugins.get_breeders())
        launcher_plugin = plugins.pick("launcher", launcher, plugins.get_launchers())
        if not launcher_plugin.functions:
            able = sorted(name for name, plugin in plugins.get_launchers().items() if plugin.functions)
            raise InputError(f"the {launcher} launcher runs commands, not functions; use one that calls functions: "
                             f"{', '.join(able)}")
        if isinstance(datasets, str):  # datasets="train": one dataset, not five of one letter
            datasets = [datasets]
        datasets = [str(dataset) for dataset in datasets]
        if not datasets:
            raise InputError("evolve needs at least one dataset, e.g. datasets=['train']")
        if self.group is not None:  # before anything is evaluated or bred from it
            store.require_group(self.conn, self.group, self.dbfile)
        starting = [self.group] if self.group is not None else store.group_ids(self.conn)
        # what identifies the loop: this reader's group, or the groups no breed loop made (every
        # group would change as the loop breeds, and an interrupted call could not find its loop)
        seeds = [self.group] if self.group is not None else [row[0] for row in self.conn.execute(
            "SELECT id FROM groups WHERE loop_id IS NULL ORDER BY id")] or starting
        if not starting:
            raise InputError(f"{self.dbfile} has no parameter group: load one first with `gf load FILE --db {self.dbfile}`")
        if scheduler and "scheduler" not in (launcher_plugin.options or {}):
            raise InputError(f"scheduler= is for the dask launcher: add launcher='dask' (not {launcher!r})")
        options = launch.launcher_options(launcher_plugin, dict(launcher_options or {}), scheduler)
        context = launch.LaunchContext(db_path=self.dbfile, function=fn, jobs=jobs, options=options)
        key_args = {"evolve": getattr(fn, "__qualname__", repr(fn)), "metric": chosen.name, "minimize": minimize,
                    "generations": generations, "population": population, "datasets": datasets,
                    "breeder": breeder_plugin.name, "top": top, "seed": seed, "start": seeds}
        unfinished = engine.unfinished_direction(self.conn, key_args) if given is None else None
        if unfinished is not None:  # the same call resumes its loop the way it ran (a later loop may run the other)
            minimize = key_args["minimize"] = unfinished[0]
        settings = engine.LoopSettings(
            metric=chosen, breeder=breeder_plugin, launcher=launcher_plugin, datasets=datasets, generations=generations,
            top=top or (max(2, population // 4) if population else 3), population=population, minimize=minimize,
            seed=seed, max_time=max_time, patience=patience, started=began,  # the starting groups' evaluation counts too
            key_args=key_args,
        )
        engine.refuse_if_running(self.conn, settings)  # before evaluating: the running loop's children are pending
        display = engine.Progress(echo=_progress_line) if progress else None
        try:
            # a starting pair whose every run failed is tried again: the function was fixed since
            pairs = engine.pending_pairs(self.conn, starting, datasets, failed=True)
            if pairs:
                ok, failed = engine.evaluate(self.conn, launcher_plugin, engine.evaluations_for(self.conn, pairs),
                                             context, display, label="starting groups", failed=True, wait=True)
                if failed and not ok:  # (none at all: another gf evaluates them)
                    raise engine.AllFailed(engine.all_failed_message(self.conn, starting, "of the starting groups",
                                                                     True))
            summary = engine.run_loop(self.conn, settings, context, display)
        except engine.Interrupted as error:  # Ctrl-C is a KeyboardInterrupt in Python, as everywhere else
            said = str(error).replace("rerun the same command", "call evolve again with the same arguments")
            raise KeyboardInterrupt(said) from None
        if summary.reason:
            from loguru import logger

            logger.info("evolve {}", summary.reason)
        return self.best(metric, minimize=minimize, datasets=datasets)

    def top(self, metric, n=10, minimize=None, dataset=None, datasets=None):
        """The best ``n`` groups by ``metric``: on ``dataset``, or by mean score over ``datasets``
        (default: every dataset of the database). ``minimize`` None: lower is better if the newest
        loop bred by ``metric`` had it so (an ``evolve(..., minimize=True)``), else higher.

        :returns: dicts ``{"group", <metric>: score, "score", ..., "params"}``, best first;
            ``params`` is the group's ``{name: value}`` as the file names them and the program
            reads them (``json.dumps`` it, or write it out with ``gf export GROUP``).
        """
        from gf import metrics

        n = _whole("n", n, "groups", 1)
        chosen = metrics.resolve(metric)
        metrics.require_known(self.conn, chosen, self.dbfile)
        minimize = metrics.direction(self.conn, chosen, minimize)[0]
        if dataset is not None:
            found = [
                {"group": row.group, metric: row.score, "score": row.score, "dataset": row.dataset,
                 "algo": row.algo, "run": row.run}
                for row in chosen.rank(self.conn, dataset=dataset, limit=n, minimize=minimize)
            ]
        else:
            if isinstance(datasets, str):
                datasets = [datasets]
            over = [str(name) for name in datasets] if datasets is not None else store.datasets(self.conn)
            ranked = metrics.overall(self.conn, chosen, over, minimize)
            found = [{"group": group, metric: score, "score": score, "datasets": by_dataset}
                     for group, score, by_dataset in ranked[:n]]
        for entry in found:
            entry["params"] = {name: json.loads(typed) for name, _value, _type, typed in
                               store.group_params(self.conn, entry["group"])}
        return found

    def best(self, metric, minimize=None, dataset=None, datasets=None):
        """The best group by ``metric`` (see :meth:`top`), or ``None`` when nothing is scored.

        :raises InputError: ``metric`` names a result no run has recorded while others are
            recorded (a misspelt name, or an algo that has not reported yet).
        """
        ranked = self.top(metric, n=1, minimize=minimize, dataset=dataset, datasets=datasets)
        return ranked[0] if ranked else None

    # -- recording --------------------------------------------------------------------

    @contextlib.contextmanager
    def report(self, label=None, *, dataset=None):
        """Record one run: yields a dict of dicts ``{algo: {name: number}}``.

        On a clean exit the run (status ``ok``) and its results are written in one
        transaction. If the block raises, the run is recorded as ``failed`` with the
        error text (and no results), and the exception propagates.
        """
        self.params  # a missing group fails here, before the user's work
        # so does text SQLite cannot store: the run could not be recorded, not even as failed
        _check_text(label, "label")
        _check_text(dataset if dataset is not None else self.dataset, "dataset")
        _check_text(self.family, "GF_FAMILY")
        results = Results()
        started = store.now()
        try:
            yield results
        except BaseException as error:
            self._record_failure(label, dataset, started, error)
            raise
        self.record(results, label, dataset=dataset, started=started)

    def record(self, results, label=None, *, dataset=None, started=None):
        """Record one finished run with ``results`` (``{algo: {name: number}}``); return its id
        (its ULID when ``$GF_RESULTS`` sends it to a results file).

        Names are lower-cased. A reserved name or a value that is not a number or a
        boolean raises :class:`gf.ResultError` and writes nothing; NaN and infinities
        are stored as NULL (never ranked) with a warning.
        """
        rows = validate_results(results)
        if started is not None and not store.is_time(started):
            raise ResultError(f"started {started!r} is not a time SQLite reads: give ISO 8601, e.g. "
                              "2026-01-31T09:30:00+00:00")
        _check_text(label, "label")
        _check_text(dataset if dataset is not None else self.dataset, "dataset")
        _check_text(self.family, "GF_FAMILY")
        return self._write_run(label, dataset, started, "ok", rows)

    def _record_failure(self, label, dataset, started, error):
        try:
            try:
                described = str(error)
            except Exception:  # an exception whose __str__ fails still gets its failed run
                described = "(its message could not be read)"
            text = f"{type(error).__name__}: {described}".encode("utf-8", "backslashreplace").decode("utf-8")
            self._write_run(label, dataset, started, "failed", (), error=text)
        except Exception as write_error:  # the user's exception matters more than ours
            _warn("could not record the failed run in {}: {}", self.dbfile, write_error)

    def _write_run(self, label, dataset, started, status, rows, error=None):
        self.params
        dataset = dataset if dataset is not None else self.dataset
        run = {
            "group_id": self.__read,
            "dataset": dataset,
            "family": self.family if self.family is not None else dataset,
            "label": label,
            "started": started or store.now(),
            "stopped": store.now(),
            "status": status,
            "host": os.uname().nodename,
            "process_id": os.getpid(),
            "command": _command_line(),
            "error": error,
            "launch": os.environ.get("GF_LAUNCH"),
        }
        results_file = os.environ.get("GF_RESULTS")
        if results_file:
            from gf import ingest

            row = self.conn.execute("SELECT digest FROM groups WHERE id = ?", (self.__read,)).fetchone()
            recorded = ingest.append(results_file, run, rows, group_digest=row[0] if row else None)
        else:
            with store.transaction(self.conn):
                if run["launch"] and store.launch_abandoned(self.conn, run["launch"]):
                    # gf that launched this evaluation died and a resumed loop gave the
                    # pair to a new evaluation: recording this one would count it twice.
                    _warn("launch {} was abandoned (its gf stopped, or another took the pair over): this run is not "
                          "recorded", run["launch"])
                    return None
                recorded = store.insert_run(self.conn, run, rows)
        if dataset is None and not _NO_DATASET_WARNED:
            _NO_DATASET_WARNED.append(True)  # once a process: a script may record many runs by hand
            _warn("run of group {} recorded with no dataset: GF_DATA is not set (gf run and gf breed set it; by "
                  "hand, GF_DATA=NAME python ...); rankings by dataset leave it out", self.__read)
        return recorded


def _command_line():
    import shlex

    return shlex.join(getattr(sys, "orig_argv", sys.argv))


#: Whether this process was told that a run it recorded has no dataset (said once).
_NO_DATASET_WARNED = []


def _progress_line(line, final):
    """evolve's progress on stderr: rewritten in place on a terminal, one line per generation otherwise."""
    if sys.stderr.isatty():
        sys.stderr.write(f"\r{line}\033[K" + ("\n" if final else ""))
        sys.stderr.flush()
    elif final:
        sys.stderr.write(line + "\n")


def _warn(message, *args):
    """A one-line warning on stderr (not loguru: this is on every evaluation's path)."""
    sys.stderr.write(f"gf warning: {message.format(*args)}\n")


def validate_results(results):
    """Check ``{algo: {name: value}}`` and return ``[(algo, name, value)]`` ready to store.

    :raises ResultError: a non-dict, an empty or reserved name, a ``.`` in a name (it
        separates algo and name in metrics), two names equal but for case, or a value
        that is not a number or a boolean.
    """
    if not isinstance(results, dict):
        raise ResultError(f"results must be a dict of dicts {{algo: {{name: number}}}}, got {type(results).__name__}")
    rows = {}
    for algo, values in results.items():
        algo_key = _result_key(algo, "algo")
        if not isinstance(values, dict):
            raise ResultError(
                f"results[{algo!r}] must be a dict {{name: number}}, got {type(values).__name__}: {values!r:.60}"
            )
        for name, value in values.items():
            name_key = _result_key(name, "result name")
            if name_key in RESERVED_RESULT_NAMES:
                raise ResultError(
                    f"result name {name!r} (in {algo!r}) is reserved: gf shows it beside results; rename it"
                )
            if (algo_key, name_key) in rows:
                raise ResultError(f"results {algo!r}.{name!r} collide once lower-cased; rename one")
            rows[(algo_key, name_key)] = _result_value(algo, name, value)
    return [(algo, name, value) for (algo, name), value in rows.items()]


def _check_text(text, what):
    """Refuse text SQLite cannot store (lone surrogates, from a bad decode)."""
    if text is None:
        return
    if not isinstance(text, str):
        raise ResultError(f"{what} {text!r} must be a string")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ResultError(f"{what} {text!r} is not valid Unicode text (it holds a lone surrogate)") from None


def _result_key(key, what):
    if not isinstance(key, str) or not key.strip():
        raise ResultError(f"{what} {key!r} must be a non-empty string")
    _check_text(key, what)
    if "." in key:
        raise ResultError(f"{what} {key!r} contains '.', which separates algo and name in metrics; use _")
    return key.lower()


def _result_value(algo, name, value):
    kind = type(value)
    if kind is int or kind is bool:  # the common cases first: no numbers import on the hot path
        return _integer(algo, name, value)
    if kind is float:
        return _finite(algo, name, value)
    import numbers

    if getattr(getattr(value, "dtype", None), "kind", None) == "b" and getattr(value, "shape", None) == ():
        return int(bool(value))  # numpy.bool_
    if not isinstance(value, numbers.Real):
        raise ResultError(
            f"result {algo}.{name} = {value!r:.60} is not a number or a boolean; record numbers only"
        )
    if isinstance(value, numbers.Integral):
        return _integer(algo, name, int(value))
    try:
        return _finite(algo, name, float(value))
    except OverflowError:  # a Fraction or Decimal beyond any float
        return _finite(algo, name, math.inf if value > 0 else -math.inf)


def _integer(algo, name, value):
    """SQLite keeps integers of 64 bits; a larger one is kept as the nearest float."""
    if -(2**63) <= value < 2**63:
        return int(value)
    try:
        return float(value)
    except OverflowError:
        return _finite(algo, name, math.inf if value > 0 else -math.inf)


def _finite(algo, name, value):
    if not math.isfinite(value):
        _warn("result {}.{} is {}: stored as NULL, never ranked", algo, name, value)
        return None
    return value
