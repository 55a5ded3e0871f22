"""What the default breeder needs to replay a database's generations without reading all of it.

The default breeder (:mod:`gf_plugins_builtin.evolution`) keeps no state of its own in the
database (what is saved, below, is a cache): every generation it replays every scored
generation from the start. Read naively, that
is every stored group's params each generation, and a loop's time per generation grew
with its history (at 1,000 params: 0.5 s at first, 1.7 s by generation 30, 13-20 s
and about 1 GB by generation 300). Two things here keep a long loop flat:

* :class:`History`: every scored group's score, best first, and a group's params only when
  the breeder asks for them (the newest generations, the model's window, the best few);
* :func:`remember` and :func:`resume`: where replaying the first batches left the
  strategy, kept in the process under a **chain key**: a hash of the settings and, batch
  after batch, of every group's digest (its exact values, see ``gf.store.digest``) and
  score. The next generation's replay starts where the longest matching chain left off,
  so only the new batches are replayed. A key names exactly what was replayed: any
  change in what the replay would see (a group scored again, another database, other
  settings) gives another key, and the replay starts from an earlier one or from the
  start. What the breeder is given is therefore the same as a full replay's, only sooner.

A new process (``gf breed`` by hand, each generation of the print launcher or of a cron job)
has nothing kept: each state is therefore also saved in the database under its chain key
(``request.saved_replays``, the table ``replay_states``), and a new process resumes from the
latest saved state its chain matches, replaying only the generations after it (at 1,000
params after 150 generations: about 7 s of replay down to the one new generation's; see
BENCHMARKS.md, breeding). A saved state is used only if the key matches, its checksum does,
and it decodes to a complete state (the breeder's ``decode``); the breeder saves only a state
that its ``encode`` wrote exactly (read back, equal type for type and bit for bit). Anything
else is ignored, and the replay starts earlier or from the start: a saved state can make a
generation faster, never different.
"""

import hashlib
import threading
from collections import OrderedDict

#: Replay states kept per process (each a few copies of the strategy's vectors: about
#: 100 KB at 1,000 params). A loop's generations each add one and resume from the newest;
#: the older ones let a replay resume when a recent generation's scores changed.
KEPT = 16

_states = OrderedDict()
_lock = threading.Lock()  # one process may run several loops in threads


class History:
    """``{group: (values, score)}`` of every scored group, best first, reading a group's
    values (``read(groups) -> {group: values}``) when first asked for, and keeping them."""

    def __init__(self, scored, read):
        self._scores = dict(scored)
        self._values = {}
        self._read = read

    @classmethod
    def of(cls, request):
        """The history of a :class:`gf.breeding.BreedRequest`: lazily from its ``scores`` and
        ``values`` when it has them, else from ``history()`` (read whole)."""
        if request.scores is not None and request.values is not None:
            return cls(request.scores(), request.values)
        items = request.history() if request.history is not None else []
        found = cls([(group, score) for group, _values, score in items], None)
        found._values = {group: values for group, values, _score in items}
        return found

    def __contains__(self, group):
        return group in self._scores

    def __iter__(self):
        return iter(self._scores)

    def __len__(self):
        return len(self._scores)

    def __getitem__(self, group):
        if group not in self._values:
            self.load([group])
        return self._values[group], self._scores[group]

    def score(self, group):
        return self._scores[group]

    def load(self, groups):
        """Read the values of ``groups`` now (one query for all), to keep."""
        missing = [group for group in dict.fromkeys(groups) if group not in self._values]
        if missing:
            self._values.update(self._read(missing))

    def pairs(self, groups):
        """``[(values, score)]`` of ``groups``, read without keeping them (a replayed batch)."""
        missing = [group for group in groups if group not in self._values]
        read = self._read(missing) if missing else {}
        return [(self._values[group] if group in self._values else read[group], self._scores[group])
                for group in groups]


def chain(header, batches, history, digests, bred=None):
    """The chain key after each of ``batches`` (``None`` from a group without a digest on:
    its values have no name, so nothing after it is kept); ``bred``: how many groups each batch
    had, scored or not (the replay's rules may depend on it)."""
    running = hashlib.blake2b(repr(header).encode(), digest_size=20)
    keys = []
    for number, batch in enumerate(batches):
        for group in batch:
            digest = digests.get(group)
            if digest is None:
                return keys + [None] * (len(batches) - len(keys))
            running.update(f"{digest}:{history.score(group)!r};".encode())
        running.update(b"|" if bred is None else f"|{bred[number]}|".encode())
        keys.append(running.copy().digest())
    return keys


def resume(keys, saved=None, decode=None):
    """``(index, state)``: the latest of ``keys`` whose state is kept (a copy of it: the caller
    may change it), or ``(None, None)``.

    With ``saved`` (a :class:`gf.breeding.SavedReplays`) and ``decode`` (text -> state, raising on
    anything incomplete), a state saved in the database under a later key than any kept here is
    taken instead (and kept): only if its checksum matches and it decodes."""
    found = None, None
    with _lock:
        for index in range(len(keys) - 1, -1, -1):
            state = _states.get(keys[index]) if keys[index] is not None else None
            if state is not None:
                _states.move_to_end(keys[index])
                found = index, state.copy()
                break
    later = found[0] + 1 if found[0] is not None else 0
    if saved is None or decode is None or not any(key is not None for key in keys[later:]):
        return found
    stored = saved.find([key.hex() for key in keys[later:] if key is not None])
    for index in range(len(keys) - 1, later - 1, -1):
        row = stored.get(keys[index].hex()) if keys[index] is not None else None
        if row is None or checksum(keys[index], row[1]) != row[2]:
            continue
        try:
            state = decode(row[1])
        except Exception:  # noqa: BLE001 -- a state that does not decode is not used, whatever is wrong with it
            continue
        remember(keys[index], state)
        return index, state
    return found


def remember(key, state, saved=None, encode=None, breeder=""):
    """Keep a copy of ``state`` (anything with a ``copy()`` that the caller's later changes do not
    reach) under ``key``, the :data:`KEPT` most recent states; with ``saved`` and ``encode`` (state ->
    text, or ``None`` for a state it cannot write exactly), also save it in the database."""
    if key is None:
        return
    kept = state.copy()
    with _lock:
        _states[key] = kept
        _states.move_to_end(key)
        while len(_states) > KEPT:
            _states.popitem(last=False)
    if saved is not None and encode is not None:
        text = encode(state)
        if text is not None:
            saved.keep(key.hex(), breeder, text, checksum(key, text))


def checksum(key, text):
    """The checksum a saved state's ``text`` is stored with, under its chain ``key`` (bytes)."""
    return hashlib.blake2b(key + b"\0" + text.encode("utf-8", "surrogatepass"), digest_size=20).hexdigest()


def forget():
    """Drop every kept state (tests; a process that wants the memory back)."""
    with _lock:
        _states.clear()
