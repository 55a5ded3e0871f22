"""The generation loop: rank -> breed -> fix constraints -> launch -> record, resumable.

``gf run``, ``gf breed`` and ``GeneticFuckery.evolve`` are thin layers over this
module. Every generation is recorded (children carry their loop and generation), so
rerunning an interrupted loop with the same arguments finds it, finishes the
evaluations it was missing, and goes on; a (group, dataset) pair that has a run is
never evaluated again.
"""

import fnmatch
import json
import random
import threading
from dataclasses import dataclass, field

from gf import launch, store

# breeding, metrics, plugins and tags are imported by the functions that use them:
# `gf run` evaluates without ranking or breeding, and starts faster without them.
from gf.errors import GfError, InputError, PluginError, printable, some_of


class AllFailed(GfError):
    """Every evaluation of a generation failed: most likely the command itself is wrong."""

    exit_code = 1


class Interrupted(GfError):
    """Ctrl-C: the loop stopped between evaluations and can be resumed."""

    exit_code = 130


# -- datasets and pairs ---------------------------------------------------------------


def _pattern(text):
    return text if any(char in text for char in "*?[") else f"*{text}*"


def select_datasets(conn, allow=(), deny=(), db_path=""):
    """The recorded datasets, kept by ``allow`` and dropped by ``deny`` (globs; plain text = substring),
    in name order: not in the order their first runs were recorded, which `-j 2` makes vary, so a
    seeded loop breeds the same children (its scores summed in the same order) and has the same key."""
    chosen = [
        dataset
        for dataset in sorted(store.datasets(conn))
        if (not allow or any(fnmatch.fnmatchcase(dataset, _pattern(a)) for a in allow))
        and not any(fnmatch.fnmatchcase(dataset, _pattern(d)) for d in deny)
    ]
    if not chosen:
        if not store.datasets(conn):
            raise InputError(
                f"no datasets recorded in {db_path or 'the database'} yet: evaluate a group first, "
                "e.g. gf run \"python backtest.py {}\" DATASET..."
            )
        raise InputError(f"--datasets-allow/--datasets-deny leave no dataset of: {', '.join(store.datasets(conn))}")
    return chosen


def pending_pairs(conn, groups, datasets, again=False, failed=False):
    """(group, dataset) pairs still to evaluate: every pair (``again``), or those with no run
    yet, and with ``failed`` also those whose every run failed. A run that failed because gf
    could not write the database (a full disk, see :data:`gf.store.EVALUATED`) is no run."""
    pairs = [(group, dataset) for group in groups for dataset in datasets]
    if again:
        return pairs
    done = set()
    which = f" AND {store.EVALUATED}" + (" AND status != 'failed'" if failed else "")
    for start in range(0, len(groups), 500):
        chunk = groups[start:start + 500]
        marks = ",".join("?" * len(chunk))
        done.update(conn.execute(f"SELECT group_id, dataset FROM runs WHERE group_id IN ({marks}){which}", chunk))
    return [pair for pair in pairs if pair not in done]


def evaluations_for(conn, pairs):
    """:class:`gf.launch.Evaluation` objects carrying each group's params as read."""
    cache = {}
    evaluations = []
    for group, dataset in pairs:
        if group not in cache:
            rows = store.group_params(conn, group)
            cache[group] = ([(name, json.loads(typed)) for name, _value, _type, typed in rows], rows)
        params, rows = cache[group]
        evaluations.append(launch.Evaluation(group, dataset, params=params, rows=rows))
    return evaluations


# -- progress -------------------------------------------------------------------------


@dataclass
class Progress:
    """A progress display on stderr: generation i/L, evaluations done/total, failures, best."""

    echo: object = None
    generation: str = ""
    done: int = 0
    total: int = 0
    failed: int = 0
    best: object = None
    #: ``refresh()`` -> the best score now, asked for the last line of each generation (its
    #: evaluations may have beaten the best shown while they ran)
    refresh: object = None
    #: evaluations left to another gf evaluating them now (see :func:`gf.store.hand_out_launches`)
    held: int = 0

    def start(self, label, total):
        self.generation, self.done, self.total, self.failed = label, 0, total, 0
        self.show()

    def finished(self, ok=1, failed=0):
        """``ok`` more evaluations succeeded and ``failed`` more failed."""
        self.done += ok + failed
        self.failed += failed
        self.show()

    def show(self):
        if self.echo:
            if self.refresh is not None and self.done == self.total and self.total:
                self.best = self.refresh()
            best = "" if self.best is None else f", best {self.best:g}"
            line = f"{self.generation}: evaluations {self.done}/{self.total}, {self.failed} failed{best}"
            self.echo(line, self.done == self.total)


def evaluate(conn, launcher, evaluations, context, progress=None, label="evaluating", again=False, failed=False,
             wait=False):
    """Launch ``evaluations`` and settle them as they finish; return ``(ok, failed)`` counts.

    A pair that has a run by the time it is launched is left out, unless ``again`` (or,
    with ``failed``, if every run it has failed). A pair another live gf is evaluating now
    is left to it; with ``wait`` (a breed loop, which ranks on every pair), this waits until
    each such pair has a run, and evaluates here those whose gf stopped without one.

    Ctrl-C stops starting evaluations, kills running ones (they stay pending and
    are evaluated on resume) and raises :class:`Interrupted`.
    """
    progress = progress or Progress()
    retry_failed, ok, failed = failed, 0, 0
    context.stopping = context.stopping or threading.Event()
    held = []
    if evaluations:
        if launcher.waits:
            evaluations = store.hand_out_launches(conn, evaluations, again, failed=retry_failed, owner=_me(),
                                                  alive=_alive, held=held)
        else:  # a launcher that hands the commands out (print) records no launch, but leaves another's alone
            me = _me()
            leave = [store.held_elsewhere(conn, (e.group, e.dataset), me, _alive) for e in evaluations]
            held = [e for e, other in zip(evaluations, leave) if other]
            evaluations = [e for e, other in zip(evaluations, leave) if not other]
        progress.held += len(held)
        if held:
            _warn(progress, f"{len(held)} evaluation(s) left to another gf that is evaluating them now on this "
                            "database")
    progress.start(label, len(evaluations))
    finished_stream = _from_launcher(launcher, lambda: launcher.launch(evaluations, context))
    completed = False
    unreported = {evaluation.launch: evaluation for evaluation in evaluations}
    warned = False
    try:
        for item in _launched(launcher, finished_stream):
            batch = item if isinstance(item, list) else [item]  # a launcher may report several at once
            # each evaluation counts once: a launcher that reports one twice (or one it was not
            # given) must not record a second run for it
            given = len(batch)
            batch = [finished for finished in batch if unreported.pop(finished.evaluation.launch, None) is not None]
            if len(batch) < given and not warned:
                _warn(progress, f"launcher {launcher.name!r} reported an evaluation twice, or one it was not "
                                "given; each evaluation is recorded once")
                warned = True
            if not batch:
                continue
            succeeded = sum(good for good, _runs in launch.settle_many(conn, batch))
            ok += succeeded
            failed += len(batch) - succeeded
            progress.finished(succeeded, len(batch) - succeeded)
        if unreported and launcher.waits:
            missing = list(unreported.values())  # released below (not completed): evaluated on a rerun
            first = missing[0]
            raise PluginError(
                f"launcher {launcher.name!r} ended without reporting {len(missing)} of its "
                f"{ok + failed + len(missing)} evaluations (the first: group {first.group} on {first.dataset}); "
                "launch() must yield a gf.launch.Finished for every evaluation it is given. They are left "
                "to evaluate: rerun the same command once the launcher is fixed")
        completed = True
    except KeyboardInterrupt as error:
        context.stopping.set()
        how = f" ({error})" if str(error) else ""  # (SIGTERM)
        raise Interrupted(
            f"interrupted{how} after {_recorded(conn, evaluations, ok + failed)} of {len(evaluations)} evaluations; "
            "rerun the same command to resume"
        ) from None
    finally:
        # However this ends (Ctrl-C, a full disk while recording), the launcher stops
        # starting evaluations and kills the running ones now, not when collected.
        close = getattr(finished_stream, "close", None)
        if close:
            close()
        if not completed and launcher.waits:
            _release(conn, evaluations)
    if wait and held and launcher.waits:  # (a launcher that only prints the lines leaves them to the other gf)
        free = _wait_for_held(conn, held, progress, label)
        if free:  # their gf stopped without recording a run: evaluated here
            more_ok, more_failed = evaluate(conn, launcher, free, context, progress, label, again, retry_failed, wait)
            ok, failed = ok + more_ok, failed + more_failed
    return ok, failed


#: Seconds between looks at the pairs another gf is evaluating, while a loop waits for them.
HELD_POLL = 0.2


def _wait_for_held(conn, held, progress, label):
    """Wait until every evaluation of ``held`` (left to another gf) has a run, or no live gf holds it
    any longer; return those without a run, for this gf to evaluate."""
    import time

    me = _me()

    def evaluated(evaluation):
        return conn.execute(f"SELECT 1 FROM runs WHERE group_id = ? AND dataset IS ? AND {store.EVALUATED} LIMIT 1",
                            (evaluation.group, evaluation.dataset)).fetchone() is not None

    def still_held(evaluation):
        return not evaluated(evaluation) and store.held_elsewhere(conn, (evaluation.group, evaluation.dataset), me,
                                                                  _alive)

    shown = None
    try:
        while True:
            waiting = [evaluation for evaluation in held if still_held(evaluation)]
            if not waiting:
                break
            if shown is None:  # said once (each its own line: as each ends, a log would fill with them)
                _warn(progress, f"{label}: waiting for {len(waiting)} evaluation(s) another gf is running now")
            shown = len(waiting)
            time.sleep(HELD_POLL)
    except KeyboardInterrupt as error:
        how = f" ({error})" if str(error) else ""  # (SIGTERM)
        raise Interrupted(f"interrupted{how} while waiting for {shown} evaluation(s) another gf is running; "
                          "rerun the same command to resume") from None
    return [evaluation for evaluation in held if not evaluated(evaluation)]


def _recorded(conn, evaluations, settled):
    """How many of ``evaluations`` have a run now: ``settled`` (those gf recorded), or more where a program
    recorded its own run and was stopped before it ended (a rerun does not evaluate those again)."""
    try:
        found = 0
        for start in range(0, len(evaluations), 500):  # the runs of these very launches (not older runs of a pair)
            chunk = [evaluation.launch for evaluation in evaluations[start:start + 500]]
            found += conn.execute(f"SELECT count(DISTINCT launch) FROM runs WHERE {store.EVALUATED} AND launch IN "
                                  f"({','.join('?' * len(chunk))})", chunk).fetchone()[0]
        return max(settled, found)
    except Exception:  # (the database gone, locked): what gf recorded itself
        return settled


def _release(conn, evaluations):
    """Abandon what this gf handed out and will not settle now (stopped early, e.g. Ctrl-C in
    ``evolve`` with the process going on, a notebook): no other gf waits on a live owner's
    launches, and a program of them that still ends will not record. A launch whose program
    has recorded its run already is done, not abandoned (under the same lock)."""
    launches = [(evaluation.launch,) for evaluation in evaluations]
    try:
        with store.transaction(conn):
            conn.executemany("UPDATE launches SET status = 'done' WHERE uid = ? AND status = 'pending' "
                             "AND EXISTS (SELECT 1 FROM runs WHERE runs.launch = launches.uid)", launches)
            conn.executemany("UPDATE launches SET status = 'abandoned' WHERE uid = ? AND status = 'pending'",
                             launches)
    except Exception:  # the database may be why it stopped: a rerun takes them over as before
        pass


def _from_launcher(launcher, call):
    """``call()`` (into a launcher plugin's code): what it raises, unless gf's own, names the launcher."""
    try:
        return call()
    except (GfError, KeyboardInterrupt, StopIteration, BrokenPipeError):
        raise
    except Exception as error:
        raise PluginError(f"launcher {launcher.name!r} failed: {type(error).__name__}: {error}") from error


def _launched(launcher, stream):
    """The items of a launcher's ``stream``, each a :class:`gf.launch.Finished` or a list of them."""
    iterator = _from_launcher(launcher, lambda: iter(stream))
    while True:
        try:
            item = _from_launcher(launcher, lambda: next(iterator))
        except StopIteration:
            return
        for finished in item if isinstance(item, list) else [item]:
            if not isinstance(finished, launch.Finished):
                raise PluginError(f"launcher {launcher.name!r} yielded {type(finished).__name__} {finished!r:.60}; "
                                  "launch() must yield gf.launch.Finished objects (or lists of them)")
        yield item


# -- ranking and breeding -------------------------------------------------------------


def rank_parents(conn, metric, datasets, top, minimize=False):
    """The top ``top`` groups of every dataset, and all of them ordered by mean rank.

    :returns: ``(ranking, groups)``: ``{dataset: [Ranked]}`` and group ids best first.
    """
    from gf import metrics

    ranking = metrics.top_per_dataset(conn, metric, datasets, top, minimize)
    positions = {}
    for rows in ranking.values():
        for position, row in enumerate(rows):
            positions.setdefault(row.group, []).append(position)
    groups = sorted(
        positions, key=lambda group: (sum(positions[group]) + top * (len(datasets) - len(positions[group])), group)
    )
    return ranking, groups


def per_algo(conn, metric, datasets, names, minimize):
    """Tagged params, per-algo rankings and mutation strengths for the default breeder.

    An algo's params come from the groups that scored best for that algo; the algo
    whose best score is worst gets its params mutated twice as hard as the best one.
    """
    from gf import metrics, tags

    recorded = tags.load(conn)
    if not recorded or not isinstance(metric, metrics.ResultMetric) or metric.algo is not None:
        return {}, {}, {}
    tagged, ranking, best = {}, {}, {}
    for algo, patterns in recorded.items():
        tagged[algo] = {name for name in names if any(fnmatch.fnmatchcase(name, p) for p in patterns)}
        overall = metrics.overall(conn, metrics.ResultMetric(metric.result, algo), datasets, minimize)
        ranking[algo] = [group for group, _score, _scores in overall]
        if overall:
            best[algo] = overall[0][1]
    order = sorted(best, key=lambda algo: best[algo], reverse=not minimize)
    strength = {algo: 1.0 + (position / (len(order) - 1) if len(order) > 1 else 0.0)
                for position, algo in enumerate(order)}
    return tagged, ranking, strength


def breed_generation(conn, *, metric, breeder, datasets, top, compare=6, population=None, minimize=False,
                     rng=None, generation=1, loop_id=None):
    """Rank, breed, fix and store one generation; return ``(new group ids, discarded, wanted)``: how many
    children came out as duplicates or broke constraints, and how many were wanted (see
    :func:`gf.breeding.breed_children`)."""
    from gf import breeding, metrics, plugins

    types = plugins.get_types()
    ranking, groups = rank_parents(conn, metric, datasets, top, minimize)
    if not groups:
        recorded = metrics.result_names(conn)
        raise InputError(
            f"no run is scored by metric {metric.name!r} on {', '.join(datasets)}{metrics.unscored(conn, metric)}; "
            f"results recorded: {some_of(recorded, metric.name, 'none (run gf run first)')}"
        )
    breeding.check_stored_types(conn, groups, types)
    params = breeding.many_group_values(conn, groups)
    names = list(dict.fromkeys(name for values in params.values() for name in values))
    tagged, algo_ranking, strength = per_algo(conn, metric, datasets, names, minimize)
    # each tagged algo's best groups, as many as there are parents (not every group it scored: that
    # would read the whole history every generation)
    more = {group for algo_groups in algo_ranking.values() for group in algo_groups[:len(groups)]} - set(params)
    params.update(breeding.many_group_values(conn, sorted(more)))
    constraints = breeding.constraints_of(conn, groups)
    scores = _once(lambda: [(group, score) for group, score, _ in metrics.overall(conn, metric, datasets, minimize)])
    request = breeding.BreedRequest(
        ranking=ranking,
        groups=groups,
        params=params,
        types=types,
        population=population,
        compare=compare,
        rng=rng or random.Random(),
        group_rows=lambda group, limit: metric.rank(conn, group=group, limit=limit, minimize=minimize,
                                                    per_group=False),
        tags=tagged,
        algo_ranking=algo_ranking,
        algo_strength=strength,
        generation=generation,
        history=_once(lambda: _history(scores(), conn)),
        minimize=minimize,
        batches=_once(lambda: breeding.batches(conn)),
        scores=scores,
        values=lambda group_ids: breeding.many_group_values(conn, group_ids),
        digests=_once(lambda: dict(conn.execute("SELECT id, digest FROM groups"))),
        bounds=breeding.bounds_of(names, constraints, types),
        strict_bounds=breeding.strict_bounds_of(names, constraints, types),
        saved_replays=breeding.SavedReplays(conn),
    )
    dropped = 0  # discarded over every attempt, and children another gf stored first (duplicates too)
    for _ in range(3):
        children, discarded, wanted = breeding.breed_children(conn, breeder, request)
        theirs = []
        ids = breeding.store_children(conn, children, types, breeder=breeder.name, generation=generation,
                                      loop_id=loop_id, theirs=theirs)
        if theirs:  # another coordinator of this very loop bred this generation first: it is theirs
            return theirs, dropped + discarded, wanted
        dropped += discarded + len(children) - len(ids)
        if ids:
            return ids, dropped, wanted
        # another gf (another loop, or gf breed by hand) stored every one meanwhile: bred again
    raise InputError(f"another gf on this database stored every child breeder {breeder.name!r} bred, three times "
                     "over (another loop, or gf breed by hand); are two gf breeding with the same --seed?")


def _once(compute):
    """``compute`` called at most once: a breeder asked again for children sees the same data."""
    cache = []

    def value():
        if not cache:
            cache.append(compute())
        return cache[0]

    return value


def _history(scores, conn):
    """``[(group, {name: value}, mean score)]`` of the ``scores``' groups (every group scored on all
    the datasets, best first)."""
    from gf import breeding

    values = breeding.many_group_values(conn, [group for group, _ in scores])
    return [(group, values[group], score) for group, score in scores]


def best_score(conn, metric, datasets, minimize):
    """The mean over ``datasets`` of each dataset's best score so far, or ``None``.

    It never gets worse for a result-name metric; a metric that keeps one run per algo
    (``"max profit min trades"``: its highest profit) can drop when a new run takes that place."""
    from gf import metrics

    bests = [rows[0].score for rows in metrics.top_per_dataset(conn, metric, datasets, 1, minimize).values() if rows]
    return metrics.mean(bests) if bests else None


# -- the loop -------------------------------------------------------------------------


@dataclass
class LoopSettings:
    """What a breed loop is: the same settings resume the same loop."""

    metric: object
    breeder: object
    launcher: object
    datasets: list
    generations: int
    top: int
    compare: int = 6
    population: object = None
    minimize: bool = False
    seed: object = None
    key_args: dict = field(default_factory=dict)
    #: seconds after which no new generation is bred (the loop stays resumable), or ``None``
    max_time: object = None
    #: generations without a better best score after which the loop ends, or ``None``
    patience: object = None
    #: when ``max_time`` began (``time.monotonic()``); ``None``: when :func:`run_loop` is called
    started: object = None

    def key(self):
        """A fingerprint of the arguments that define this loop."""
        return loop_key(self.key_args)


def loop_key(key_args):
    """The fingerprint of a loop's arguments (``loops.key``), by which a rerun finds it."""
    import hashlib

    canonical = json.dumps(key_args, sort_keys=True, default=str)
    return hashlib.sha1(canonical.encode()).hexdigest()


def unfinished_direction(conn, key_args):
    """``(minimize, loop id)`` of the newest loop whose arguments are ``key_args`` but for the direction, if
    it is unfinished, else ``None``: a rerun given no ``--minimize``/``--maximize`` resumes it the way it ran,
    even where a later loop by the same metric (which decides the direction otherwise) ran the other way.
    One the same arguments ran again since (the other way, to its end) is left as it is."""
    keys = {loop_key({**key_args, "minimize": lower}): lower for lower in (True, False)}
    row = conn.execute("SELECT id, key, status FROM loops WHERE key IN (?, ?) ORDER BY id DESC LIMIT 1",
                       list(keys)).fetchone()
    return (keys[row[1]], row[0]) if row and row[2] != "done" else None


def _process(process_id):
    """``(state, start time)`` of a process from ``/proc`` (Linux), or ``None`` when it cannot be read."""
    try:
        with open(f"/proc/{process_id}/stat", encoding="ascii", errors="replace") as handle:
            fields = handle.read().rpartition(")")[2].split()
        return fields[0], int(fields[19])  # fields 3 and 22 of proc(5): state, start time in clock ticks
    except (OSError, IndexError, ValueError):
        return None


def _me():
    """This process as a loop records it: ``(host, process id, start time)``."""
    import os
    import socket

    found = _process(os.getpid())
    return socket.gethostname(), os.getpid(), found[1] if found else None


def _alive(host, process_id, process_start=None):
    """Whether the gf that last ran a loop still runs: ``None`` when that cannot be told here.

    A zombie is dead, and so is a process id since given to another process (its start
    time differs), where ``/proc`` tells.
    """
    import os
    import socket

    if not host or not process_id or host != socket.gethostname():
        return None
    if process_id == os.getpid():  # this process, or an earlier one with its pid (gf as pid 1 in a container)
        return process_start is None or process_start == _me()[2]
    found = _process(process_id)
    if found is not None:
        state, started = found
        return state != "Z" and (process_start is None or started == process_start)
    try:
        os.kill(process_id, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


#: ``(database file, loop id)`` of the loops this process runs now, so two threads of it cannot run one
_RUNNING = set()
_RUNNING_LOCK = threading.Lock()


def refuse_if_running(conn, settings):
    """An :class:`InputError` when another gf on this machine runs the loop with these settings now."""
    row = conn.execute(
        "SELECT id, host, process_id, process_start FROM loops WHERE key = ? AND status = 'running' "
        "ORDER BY id DESC LIMIT 1", (settings.key(),)
    ).fetchone()
    if row and (_database_file(conn), row[0]) in _RUNNING:
        raise InputError(f"breed loop {row[0]} with these arguments is running now in this process: wait for it")
    if row and _alive(*row[1:]) and tuple(row[1:]) != _me():
        raise InputError(f"breed loop {row[0]} with these arguments is running now (process {row[2]} on this "
                         "machine): wait for it, or stop it and rerun this command to go on")


#: Loop arguments that may change between the commands of what a user thinks of as one loop.
_DRIFTING = ("datasets", "loop", "generations")


def _unfinished_like(conn, settings, new_id):
    """Why a new loop did not resume an unfinished one with the same arguments but its datasets or
    length (a dataset recorded since, a larger --loop), or ``None``: it would go unnoticed."""
    mine = {key: value for key, value in json.loads(json.dumps(settings.key_args, default=str)).items()
            if key not in _DRIFTING}
    for loop_id, args, target, status, *owner in conn.execute(
            "SELECT id, args, target, status, host, process_id, process_start FROM loops "
            "WHERE status != 'done' AND id != ? ORDER BY id DESC", (new_id,)):
        try:
            theirs = json.loads(args)
        except ValueError:
            continue
        if {key: value for key, value in theirs.items() if key not in _DRIFTING} != mine:
            continue
        if status == "running" and _alive(*owner):  # another gf is running it now: not left unfinished
            continue
        (done,) = conn.execute("SELECT coalesce(max(generation), 0) FROM groups WHERE loop_id = ?",
                               (loop_id,)).fetchone()
        changed = [f"{key} {theirs.get(key)} -> {settings.key_args.get(key)}" for key in _DRIFTING
                   if key in theirs and theirs.get(key) != json.loads(json.dumps(settings.key_args.get(key), default=str))]
        added = sorted(set(settings.key_args.get("datasets") or ()) - set(theirs.get("datasets") or ()))
        if "evolve" in theirs:
            hint = f"; to finish it instead, call evolve again with datasets={theirs.get('datasets')}"
        elif added and set(theirs.get("datasets") or ()) <= set(settings.key_args.get("datasets") or ()):
            hint = f"; to finish it instead, rerun its command leaving out {', '.join(added)} (--datasets-deny)"
        else:
            hint = "; its own arguments (gf loops --json) resume it"
        return (f"a new breed loop: loop {loop_id} had these arguments but for {'; '.join(changed)}, and is "
                f"unfinished at generation {done} of {target}{hint}")
    return None


def _open_loop(conn, settings):
    """The unfinished loop with these settings, or a new one: ``(loop_id, generation_done, resumed)``.

    A loop another gf on this machine is running now is refused: two would breed the same
    generation twice.
    """
    key = settings.key()
    me = _me()
    with store.transaction(conn):  # find and claim it in one write, so two gfs cannot both claim it
        refuse_if_running(conn, settings)
        row = conn.execute(
            "SELECT id FROM loops WHERE key = ? AND status != 'done' ORDER BY id DESC LIMIT 1", (key,)
        ).fetchone()
        if row:
            loop_id = row[0]
            conn.execute("UPDATE loops SET status = 'running', stopped = NULL, reason = NULL, host = ?, "
                         "process_id = ?, process_start = ? WHERE id = ?", (*me, loop_id))
        else:
            loop_id = conn.execute(
                "INSERT INTO loops (uid, key, args, started, target, status, host, process_id, process_start) "
                "VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?)",
                (store.new_ulid(), key, json.dumps(settings.key_args, default=str), store.now(), settings.generations,
                 *me),
            ).lastrowid
    mine = (_database_file(conn), loop_id)
    with _RUNNING_LOCK:
        if mine in _RUNNING:
            raise InputError(f"breed loop {loop_id} with these arguments is running now in this process: wait for it")
        _RUNNING.add(mine)
    if not row:
        return loop_id, 0, False
    (generation,) = conn.execute(
        "SELECT coalesce(max(generation), 0) FROM groups WHERE loop_id = ?", (loop_id,)
    ).fetchone()
    return loop_id, generation, True


def _database_file(conn):
    return conn.execute("PRAGMA database_list").fetchone()[2]


def _close_loop(conn, loop_id, status, reason=None, drop=False):
    """Record how the loop ended (or, with ``drop``, delete its row: a new loop refused before it bred)."""
    try:
        with store.transaction(conn):
            if drop:
                conn.execute("DELETE FROM loops WHERE id = ?", (loop_id,))
            else:
                conn.execute("UPDATE loops SET status = ?, stopped = ?, reason = ? WHERE id = ?",
                             (status, store.now(), reason, loop_id))
    finally:
        with _RUNNING_LOCK:
            _RUNNING.discard((_database_file(conn), loop_id))


def list_loops(conn):
    """Every breed loop as a dict, oldest first: its state, progress, and what it was run with.

    ``generation`` is the latest generation bred, of ``target`` (an interrupted loop's may be
    partly evaluated: its runs are in ``ok`` and ``failed``). ``best`` is the best score the
    loop has seen, ``stale`` how many generations in a row have not beaten it, ``reason`` why
    it ended early or failed (``None`` when it ran through or is under way). ``last`` is the
    latest activity (a group bred, a run or the loop stopped). A loop whose process died
    says ``running`` until it is resumed; ``alive`` (for a ``running`` loop) tells whether its
    gf still runs, ``None`` when it ran on another machine. A ``running`` loop that ``gf merge``
    copied from another database (no gf runs it in this one) says so in ``reason``
    (:data:`gf.merging.MERGED_WHILE_RUNNING`).
    """
    rows = conn.execute(
        """SELECT l.id, l.uid, l.status, l.started, l.stopped, l.target, l.args, l.best, l.stale, l.reason,
                  l.host, l.process_id, l.process_start,
                  (SELECT max(generation) FROM groups WHERE loop_id = l.id),
                  (SELECT count(*) FROM groups WHERE loop_id = l.id),
                  (SELECT count(*) FROM runs r JOIN groups g ON g.id = r.group_id
                      WHERE g.loop_id = l.id AND r.status = 'ok'),
                  (SELECT count(*) FROM runs r JOIN groups g ON g.id = r.group_id
                      WHERE g.loop_id = l.id AND r.status = 'failed'),
                  max(coalesce((SELECT max(created) FROM groups WHERE loop_id = l.id), ''),
                      coalesce((SELECT max(r.stopped) FROM runs r JOIN groups g ON g.id = r.group_id
                                WHERE g.loop_id = l.id), ''),
                      coalesce(l.stopped, ''), l.started)
           FROM loops l ORDER BY l.started, l.id"""
    )
    loops = []
    for (loop_id, uid, status, started, stopped, target, args, best, stale, reason, host, process_id, process_start,
         done, groups, ok, failed, last) in rows:
        args = json.loads(args)
        loops.append({
            "id": loop_id, "uid": uid, "status": status, "started": started, "stopped": stopped, "last": last,
            "generation": done or 0, "target": target, "groups": groups, "ok": ok, "failed": failed,
            "best": best, "stale": stale, "reason": reason, "host": host, "process_id": process_id,
            "alive": _alive(host, process_id, process_start) if status == "running" else None,
            "breeder": args.get("breeder"), "metric": args.get("metric"),
            "command": args.get("command") or (f"evolve({args['evolve']})" if args.get("evolve") else None),
            "args": args,
        })
    return loops


def generation_groups(conn, loop_id, generation):
    return [row[0] for row in conn.execute(
        "SELECT id FROM groups WHERE loop_id = ? AND generation = ? ORDER BY id", (loop_id, generation))]


def _rng(seed, generation):
    """The generation's random source: fixed by ``--seed``, so a rerun breeds the same children."""
    if seed is None:
        return random.Random()
    return random.Random(f"{seed}:{generation}")


class Generations(list):
    """The per-generation summaries of :func:`run_loop`, and why it ended early.

    :ivar reason: ``None`` when every generation asked for was bred, else one line: the
        ``max_time`` ran out (the loop stays resumable) or ``patience`` ended it.
    :ivar waiting: with a launcher that does not wait (``print``): what the loop waits for.
    """

    reason = None
    waiting = None


def parse_duration(text):
    """Seconds from ``90``, ``90s``, ``30m``, ``8h``, ``1d`` (or a number); a :class:`ValueError` otherwise."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    else:
        value = str(text).strip().lower()
        number = value.rstrip("smhd")
        unit = value[len(number):]
        try:
            if not number or number != number.strip() or "_" in number:
                raise ValueError
            seconds = float(number) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
        except (ValueError, KeyError):  # not a number, or not a unit ("1ms", "8hs")
            seconds = None
    if seconds is None or not 0 < seconds < float("inf"):
        raise ValueError(f"{text!r}: expected a duration such as 90s, 30m, 8h or 1d (plain numbers are seconds)")
    return seconds


def duration_text(seconds):
    """``28800`` -> ``8h``, ``90`` -> ``90s``: a duration as a person would write it."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size:g}{unit}"
    return f"{seconds:g}s"


def _count(conn, loop_id, generation, best_now, minimize):
    """Record generation ``generation``'s best score against the loop's best so far; the stale count.

    Kept in the loop's row, so the count goes on across the commands that resume the loop;
    a generation already counted is not counted again.
    """
    with store.transaction(conn):  # read and written under one lock: another gf on this loop counts once
        best, stale, counted = conn.execute("SELECT best, stale, counted FROM loops WHERE id = ?",
                                            (loop_id,)).fetchone()
        if generation <= counted:
            return stale
        if _better(best_now, best, minimize):
            best, stale = best_now, 0
        else:
            stale += 1
        conn.execute("UPDATE loops SET best = ?, stale = ?, counted = ? WHERE id = ?",
                     (best, stale, generation, loop_id))
    return stale


def run_loop(conn, settings, context, progress=None):
    """Breed and evaluate ``settings.generations`` generations, resuming an interrupted loop.

    With ``settings.max_time``, no generation is bred once that many seconds have passed
    since this call began (the one under way finishes; each call does at least one; the
    loop is left resumable). With ``settings.patience``, the loop ends (done) after that
    many generations in a row without a better best score, counted across the calls that
    resume it. Why a loop ended early, or failed, is kept in its row (``gf loops``).

    :returns: :class:`Generations`, a list of per-generation summaries
        ``{generation, children, ok, failed, best}``.
    :raises AllFailed: a generation in which every evaluation failed.
    :raises Interrupted: Ctrl-C; rerunning with the same settings resumes.
    """
    import time

    progress = progress or Progress()
    if progress.echo and progress.refresh is None:
        progress.refresh = lambda: best_score(conn, settings.metric, settings.datasets, settings.minimize)
    started = time.monotonic() if settings.started is None else settings.started
    # the score to beat (the best before the loop breeds anything), before the loop's first write: a
    # metric gf cannot breed by (text scores) is refused with the database as it was
    best_before = best_score(conn, settings.metric, settings.datasets, settings.minimize)
    loop_id, generation, resumed = _open_loop(conn, settings)
    if not resumed:
        earlier = _unfinished_like(conn, settings, loop_id)
        if earlier:
            _warn(progress or Progress(), earlier)
    summary = Generations()
    status = "stopped"
    failure = None
    refused = False
    worked = False  # a generation bred or finished by this call

    def patience_ends(best_now):
        stale = _count(conn, loop_id, generation, best_now, settings.minimize)
        if settings.patience and stale >= settings.patience and generation < settings.generations:
            summary.reason = (f"ended after generation {generation} of {settings.generations}: no better best score "
                              f"in the last {stale} generations (patience {settings.patience})")
            return True
        return False

    try:
        if resumed and progress.echo:
            progress.echo(f"resuming breed loop {loop_id}: {generation} of its {settings.generations} generations "
                          "bred so far", True)
        if not resumed and progress.echo:
            done = conn.execute("SELECT max(id) FROM loops WHERE key = ? AND status = 'done' AND id != ?",
                                (settings.key(), loop_id)).fetchone()[0]
            if done:
                progress.echo(f"breed loop {done} with these arguments is done: this is a new one, loop {loop_id}",
                              True)
        if not resumed:
            with store.transaction(conn):
                conn.execute("UPDATE loops SET best = ? WHERE id = ?", (best_before, loop_id))
        if resumed and generation:
            groups = generation_groups(conn, loop_id, generation)
            missing = pending_pairs(conn, groups, settings.datasets)
            had_ok, had_failed = _evaluated(conn, groups, settings.datasets)
            again = bool(not missing and had_failed and not had_ok)
            if again:  # every pair has run and none of them ok: it stopped the loop (judged whole, see below)
                # every evaluation of it failed (the loop stopped there: a broken command, a full disk, a
                # cluster gone): evaluated again, not left unscored while the loop breeds on from older groups
                missing = pending_pairs(conn, groups, settings.datasets, failed=True)
                if progress.echo:
                    progress.echo(f"generation {generation}: every evaluation of it failed before; evaluating its "
                                  f"{len(missing)} failed evaluation(s) again", True)
            if missing:
                progress.best = best_score(conn, settings.metric, settings.datasets, settings.minimize)
                held_before = progress.held
                ok, failed = evaluate(conn, settings.launcher, evaluations_for(conn, missing), context, progress,
                                      f"generation {generation}/{settings.generations} (resumed)", failed=again,
                                      wait=True)
                store.require_same_file(conn)  # else its programs failed for want of it: not the command's fault
                if not settings.launcher.waits:  # printed again: breed on once they have run
                    summary.waiting = _waiting(generation, len(missing), progress.held - held_before)
                    return summary
                # the generation's row counts what it has in all (what the interrupted gf recorded too)
                whole_ok, whole_failed = _evaluated(conn, groups, settings.datasets)
                summary.append(_summary(conn, settings, generation, groups, whole_ok, whole_failed))
                worked = True
                if failed and not whole_ok:  # judged by the whole generation, not the few pairs left to do
                    raise AllFailed(all_failed_message(conn, groups,
                                                       f"of generation {generation}", context.function is not None))
            if patience_ends(best_score(conn, settings.metric, settings.datasets, settings.minimize)):
                status = "done"
                return summary
        while generation < settings.generations:
            if worked and settings.max_time is not None and time.monotonic() - started >= settings.max_time:
                summary.reason = (f"stopped after generation {generation} of {settings.generations}: the time limit "
                                  f"({duration_text(settings.max_time)}) ran out; rerun with the same arguments to "
                                  "go on")
                return summary
            generation += 1
            children, discarded, wanted = breed_generation(
                conn,
                metric=settings.metric,
                breeder=settings.breeder,
                datasets=settings.datasets,
                top=settings.top,
                compare=settings.compare,
                population=settings.population,
                minimize=settings.minimize,
                rng=_rng(settings.seed, generation),
                generation=generation,
                loop_id=loop_id,
            )
            worked = True
            pairs = pending_pairs(conn, children, settings.datasets)
            if wanted and len(children) < wanted:
                _warn(progress, f"generation {generation}: bred {len(children)} of {wanted} children; {discarded} "
                                "came out as duplicates of stored groups or broke constraints")
            held_before = progress.held
            ok, failed = evaluate(conn, settings.launcher, evaluations_for(conn, pairs), context, progress,
                                  f"generation {generation}/{settings.generations}", wait=True)
            store.require_same_file(conn)  # else its programs failed for want of it: not the command's fault
            if not settings.launcher.waits:  # resumed once the printed commands have run
                summary.waiting = _waiting(generation, len(pairs), progress.held - held_before)
                summary.append({"generation": generation, "children": len(children), "ok": 0, "failed": 0,
                                "best": None, "printed": len(pairs) - (progress.held - held_before)})
                return summary
            summary.append(_summary(conn, settings, generation, children, ok, failed))
            progress.best = summary[-1]["best"]
            if pairs and failed and not ok:  # (none at all: another gf evaluates them)
                raise AllFailed(all_failed_message(conn, children, f"of generation {generation}",
                                                   context.function is not None))
            if pairs and failed:
                lacking = failed_datasets(conn, children)
                if lacking:  # its children can never rank with the groups scored on every dataset
                    import shlex

                    _warn(progress, f"generation {generation}: " + all_failed_message(
                        conn, children, f"on {', '.join(map(repr, lacking))}", context.function is not None,
                        datasets=lacking) + f" there (`gf runs --dataset {shlex.quote(lacking[0])} --last 5`): the "
                        "children rank below every group scored on all datasets")
            if patience_ends(summary[-1]["best"]):
                status = "done"
                return summary
        status = "done"
        return summary
    except BaseException as error:
        if isinstance(error, KeyboardInterrupt):  # while breeding: Ctrl-C, or SIGTERM (see gf.cli)
            failure = f"interrupted ({str(error) or 'Ctrl-C'}); rerun the same command to resume"
        else:
            failure = (str(error).strip().splitlines() or [type(error).__name__])[0][:500]
        # refused before it bred anything (a metric nothing is scored by...): a loop with no groups leaves no row
        refused = isinstance(error, InputError) and not conn.execute(
            "SELECT 1 FROM groups WHERE loop_id = ? LIMIT 1", (loop_id,)).fetchone()
        raise
    finally:
        _close_loop(conn, loop_id, status, summary.reason or summary.waiting or failure, drop=refused)


def _warn(progress, message):
    """A warning on the progress display (its own line), or in the log when there is none (evolve)."""
    if progress.echo:
        progress.echo(f"warning: {message}", True)
    else:
        from loguru import logger

        logger.warning(message)


def _waiting(generation, count, held=0):
    """Why a loop whose launcher printed the lines stops here (``held`` of the ``count`` left to another gf)."""
    if held >= count:
        return (f"waiting for generation {generation}'s {count} evaluations, which another gf is running: rerun "
                "this command once they are done")
    others = f" ({held} more run by another gf)" if held else ""
    return (f"waiting for generation {generation}'s {count - held} printed evaluations{others}: run them, then rerun "
            "this command to go on")


def _better(score, than, minimize):
    """Whether ``score`` beats ``than`` (``None``: no score yet)."""
    if score is None:
        return False
    if than is None:
        return True
    return score < than if minimize else score > than


def _summary(conn, settings, generation, children, ok, failed):
    return {
        "generation": generation,
        "children": len(children),
        "ok": ok,
        "failed": failed,
        "best": best_score(conn, settings.metric, settings.datasets, settings.minimize),
    }


def _evaluated(conn, groups, datasets):
    """``(ok, failed)``: how many of the pairs of ``groups`` and ``datasets`` have an ok run, and how many
    only failed ones."""
    if not groups or not datasets:
        return 0, 0
    ok, failed = conn.execute(
        f"SELECT coalesce(sum(ok), 0), coalesce(sum(1 - ok), 0) FROM (SELECT max(status = 'ok') AS ok FROM runs "
        f"WHERE group_id IN ({','.join('?' * len(groups))}) AND dataset IN ({','.join('?' * len(datasets))}) "
        "GROUP BY group_id, dataset)", [*groups, *datasets]).fetchone()
    return ok, failed


def failed_datasets(conn, groups):
    """The datasets on which every run of ``groups`` failed (and some ran), in the order first run."""
    marks = ",".join("?" * len(groups))
    return [dataset for (dataset,) in conn.execute(
        f"SELECT dataset FROM runs WHERE group_id IN ({marks}) AND dataset IS NOT NULL GROUP BY dataset "
        "HAVING sum(status = 'failed') > 0 AND sum(status = 'ok') = 0 ORDER BY min(id)", groups)]


def all_failed_message(conn, groups, which, function=False, datasets=None):
    """Why every evaluation ``which`` ("of generation 3") failed, with the last error seen
    (``function``: the evaluations called a Python function, not a command; ``datasets``: only runs on
    these). If the database file was deleted or replaced meanwhile, that is why:
    :class:`gf.errors.StoreError` says so instead."""
    store.require_same_file(conn)
    marks = ",".join("?" * len(groups))
    only = f" AND dataset IN ({','.join('?' * len(datasets))})" if datasets else ""
    row = conn.execute(
        f"SELECT exit_code, error FROM runs WHERE group_id IN ({marks}) AND status = 'failed'{only} "
        "ORDER BY id DESC LIMIT 1",
        [*groups, *(datasets or [])],
    ).fetchone()
    detail = ""
    if row:
        last_line = printable(row[1] or "").strip().splitlines()[-1:] or [""]
        status = "" if row[0] is None else f" (exit {row[0]})"
        detail = f"; last error{status}: {last_line[0][:200]}"
    return f"every evaluation {which} failed{detail}; check the {'function' if function else 'command'}"
