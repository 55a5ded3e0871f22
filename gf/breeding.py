"""Breeding one generation: ranked parents -> breeder -> constraint fixers -> stored children.

A breeder (a plugin, see ``gf_register_breeders``) only proposes children. This
module makes every stored child dependable: values valid for their types, the
group's constraints satisfied (fixers first, then a re-breed for what cannot be
repaired), and no child identical to a group already in the database.
"""

import math
from dataclasses import dataclass, field

from gf import loader, paramtypes, plugins, store, values
from gf.errors import InputError, PluginError

#: How many times the breeder is asked again for children that had to be discarded.
MAX_ATTEMPTS = 25


@dataclass
class Child:
    """A proposed child group: its params and the parent groups it came from.

    :ivar rows: the params as stored (filled in once the child is accepted).
    """

    params: dict
    parents: list
    rows: list = None


@dataclass
class BreedRequest:
    """Everything a breeder may use to propose children.

    :ivar ranking: ``{dataset: [Ranked]}``, the top groups of every dataset, best first.
    :ivar groups: parent group ids, best first overall (mean rank across datasets).
    :ivar params: ``{group_id: {full_name: value}}`` of every parent, and of each tagged algo's best
        groups in :attr:`algo_ranking`, as many as there are parents.
    :ivar types: the :class:`gf.paramtypes.TypeRegistry`.
    :ivar population: how many children to propose (``None``: the breeder decides).
    :ivar compare: how many results of each parent the classic breeder pairs.
    :ivar rng: a seeded :class:`random.Random`; use only it.
    :ivar group_rows: ``group_rows(group, limit)`` -> that group's best :class:`Ranked` rows.
    :ivar tags: ``{algo: set(full_name)}`` from ``gf tag`` (empty without tags).
    :ivar algo_ranking: ``{algo: [group ids best first]}`` for tagged algos.
    :ivar algo_strength: ``{algo: factor}``: >1 mutates a poorly scoring algo's params harder.
    :ivar generation: the number of the generation being bred.
    :ivar history: ``history()`` -> ``[(group_id, {name: value}, score)]`` of every group
        scored on the ranked datasets (mean score), best first: for model-based breeders.
    :ivar minimize: whether lower scores are better.
    :ivar scores: ``scores()`` -> ``[(group_id, score)]``: :attr:`history` without the values, to
        read only the groups a breeder needs (with :attr:`values`).
    :ivar values: ``values(group_ids)`` -> ``{group_id: {name: value}}``.
    :ivar batches: ``batches()`` -> every group id in creation order, in batches: the
        groups of one generation of one loop together, each run of loaded groups together.
    :ivar digests: ``digests()`` -> ``{group_id: digest}`` of every group: the digest names
        the group's values in every database (see :func:`gf.store.digest`), so a breeder can
        tell groups it has seen before (``None`` where the request was built without it).
    :ivar bounds: ``{name: (low, high)}`` from the parents' constraints against numbers
        and the types' bounds (``None`` where open).
    :ivar strict_bounds: ``{name: (low is strict, high is strict)}``: whether a bound in
        :attr:`bounds` comes from a strict constraint (``x > 0``), which its own value breaks.
    :ivar saved_replays: where a breeder that replays the history may save its state between
        processes, by a key naming exactly what it replayed (a :class:`SavedReplays`; ``None`` where
        the request was built without it).
    :ivar attempt: 0 on the first call for a generation; 1, 2... when the breeder is asked
        again because children it proposed were duplicates of stored groups or broke
        constraints. A breeder whose proposals are deterministic (a model's optimum) should
        vary them then, or it would propose the same duplicates every time.
    """

    ranking: dict
    groups: list
    params: dict
    types: object
    population: object
    compare: int
    rng: object
    group_rows: object
    tags: dict = field(default_factory=dict)
    algo_ranking: dict = field(default_factory=dict)
    algo_strength: dict = field(default_factory=dict)
    generation: int = 1
    history: object = None
    minimize: bool = False
    batches: object = None
    scores: object = None
    values: object = None
    digests: object = None
    bounds: dict = field(default_factory=dict)
    strict_bounds: dict = field(default_factory=dict)
    attempt: int = 0
    saved_replays: object = None
    _mutators: object = field(default=None, repr=False, compare=False)

    def mutate(self, name, value, sigma, rate):
        """Mutate ``value`` of param ``name`` through the ``gf_mutate`` hook (parents' value if no mutator)."""
        if self._mutators is None:
            self._mutators = plugins.first_result("gf_mutate")
        mutated = self._mutators(param_type=self.types.for_param(name), value=value, sigma=sigma, rate=rate,
                                 rng=self.rng)
        return value if mutated is None else mutated


class SavedReplays:
    """Replay states saved in the database (table ``replay_states``), for a breeder that rebuilds its
    state from every recorded generation (the default breeder: ``gf_plugins_builtin.replay``).

    A cache: ``find`` gives what was saved, ``keep`` saves and never fails (a read-only or locked
    database keeps nothing); the breeder checks what it finds and ignores what does not check out."""

    def __init__(self, conn):
        self._conn = conn

    def find(self, keys):
        """``{key: (breeder name, state text, checksum)}`` of the saved states among ``keys`` (text)."""
        return store.saved_replays(self._conn, keys)

    def keep(self, key, breeder, state, checksum):
        """Save ``state`` (text) under ``key``, the newest few kept; whether it was saved."""
        return store.save_replay(self._conn, key, breeder, state, checksum)


class Breeder:
    """Base class of a breeder; register instances with the ``gf_register_breeders`` hook.

    :ivar name: what ``--breeder`` selects.
    :ivar description: one line for ``gf breeders list``.
    """

    name = ""
    description = ""

    def breed(self, request):
        """Propose children: return a list of :class:`Child` from a :class:`BreedRequest`."""
        raise NotImplementedError

    def __repr__(self):
        return f"<{type(self).__name__} {self.name!r}>"


def constraints_of(conn, parents, cache=None):
    """The union of the parents' constraints, in declaration order.

    :param cache: a dict to remember each parent's constraints in (children share parents).
    """
    found = {}
    for parent in dict.fromkeys(parents):
        if cache is None or parent not in cache:
            rows = [loader.Constraint.from_stored(*row) for row in store.group_constraints(conn, parent)]
            if cache is None:
                found.update(dict.fromkeys(rows))
                continue
            cache[parent] = rows
        found.update(dict.fromkeys(cache[parent]))
    return list(found)


def _tightest(names, constraints, types):
    """``{name: [(low, strict), (high, strict)]}``: the tightest bound on each side, and whether
    it excludes its own value (a ``>`` or ``<`` constraint; the stricter of equal bounds)."""
    found = {}
    for name in names:
        param_type = types.for_param(name)
        found[name] = [(param_type.low, False), (param_type.high, False)]
    for constraint in constraints:
        if isinstance(constraint.rhs, str) or constraint.lhs not in found:
            continue
        side = 0 if constraint.op in (">", ">=") else 1
        bound = found[constraint.lhs][side][0]
        strict = constraint.op in (">", "<")
        if bound is None or (constraint.rhs > bound if side == 0 else constraint.rhs < bound) or (
                constraint.rhs == bound and strict):
            found[constraint.lhs][side] = (constraint.rhs, strict)
    return found


def bounds_of(names, constraints, types):
    """``{name: (low, high)}``: the tightest numeric bounds the constraints and types give."""
    return {name: (low, high) for name, ((low, _), (high, _)) in _tightest(names, constraints, types).items()}


def strict_bounds_of(names, constraints, types):
    """``{name: (low is strict, high is strict)}`` for :func:`bounds_of`'s bounds: ``x > 0`` is."""
    return {name: (low, high) for name, ((_, low), (_, high)) in _tightest(names, constraints, types).items()}


def batches(conn):
    """Group ids in creation order, batched by (loop, generation); loaded groups in runs."""
    found, current_loaded = {}, None
    for group_id, loop_id, generation in conn.execute("SELECT id, loop_id, generation FROM groups ORDER BY id"):
        if generation is None:
            if current_loaded is None:
                current_loaded = ("loaded", group_id)
            key = current_loaded
        else:
            key, current_loaded = (loop_id, generation), None
        found.setdefault(key, []).append(group_id)
    return list(found.values())


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_PLAIN_NUMBERS = (float, int)  # exactly these types (a bool's type is bool), for a quick check


def violations(params, constraints, types):
    """The constraints (and type bounds) ``params`` break, as text; empty when all hold."""
    broken = []
    for name, value in params.items():
        param_type = types.for_param(name)
        if isinstance(value, float) and math.isnan(value):  # from a plugin's gf_mutate, say
            broken.append(f"{name}: NaN is not a value")
            continue
        try:
            param_type.validate(value)
        except (ValueError, TypeError) as error:  # TypeError too: a plugin validate that refuses a float that way
            broken.append(f"{name}: {error}")
    for constraint in constraints:
        left = params.get(constraint.lhs)
        right = params.get(constraint.rhs) if isinstance(constraint.rhs, str) else constraint.rhs
        if type(left) in _PLAIN_NUMBERS and type(right) in _PLAIN_NUMBERS:  # most are: the checks below in short
            if not loader.OPERATORS[constraint.op](left, right):
                broken.append(str(constraint))
        elif left is None or right is None:
            broken.append(f"{constraint}: a parameter is missing")
        elif not all(_is_number(value) for value in (left, right)):
            broken.append(f"{constraint}: not a number")
        elif not loader.OPERATORS[constraint.op](left, right):
            broken.append(str(constraint))
    return broken


def breed_children(conn, breeder, request):
    """Ask ``breeder`` for children until ``request.population`` valid, new ones exist.

    Each child goes through every ``gf_fix_child`` fixer, then is checked against
    its parents' constraints and its types; children still in violation, and
    duplicates of each other or of stored groups, are discarded and bred again.

    :returns: ``(children, discarded, wanted)``: valid :class:`Child` objects, how many were
        discarded, and how many were wanted (``request.population``, or the number the breeder
        proposed at first when it chooses): fewer children than that when too few were new and valid.
    """
    seen, cache, known, by_parents = set(), {}, set(), {}
    wanted = request.population
    children, discarded, why, refusing = [], 0, None, None
    for attempt in range(MAX_ATTEMPTS):
        request.attempt = attempt
        proposed = _proposed(breeder, request)
        if wanted is None:
            wanted = len(proposed)
        for child in proposed:
            if len(children) >= wanted:
                break
            _check_parents(conn, breeder, child, known)
            parents = tuple(dict.fromkeys(child.parents))
            if parents not in by_parents:  # children mostly share their parents
                by_parents[parents] = constraints_of(conn, parents, cache)
            constraints = list(by_parents[parents])  # a list of its own for the fixers
            answers = plugins.call_hook(  # through pluggy: a fixer may wrap the others (hookimpl(wrapper=True))
                "gf_fix_child", params=child.params, constraints=constraints, types=request.types, rng=request.rng)
            refused = any(answer is False for answer in answers)  # only False refuses: not 0, not None
            broken = _missing(child, request) or violations(child.params, constraints, request.types)
            if refused or broken:
                discarded += 1
                why = broken[0] if broken else f"a fixer refused it ({_fixers()})"
                name = why.split(": ", 1)[0]  # "name: why" is a value its type refuses, not a constraint
                refusing = name if broken and name in child.params else None
                continue
            child.rows = param_rows(child.params, request.types)
            fingerprint = store.digest(child.rows)
            if fingerprint in seen or conn.execute("SELECT 1 FROM groups WHERE digest = ?", (fingerprint,)).fetchone():
                discarded += 1
                why, refusing = "a duplicate" + (" of a stored group" if fingerprint not in seen else ""), None
                continue
            seen.add(fingerprint)
            children.append(child)
        if len(children) >= (wanted or 0):
            break
    if not children:
        hint = ("widen the constraints or breed from more parents (--top)" if refusing is None
                else f"a value its type refuses: check {refusing} in the parents (gf show ID), and rewrite it there "
                     "(gf load --parent ID FILE)")
        raise InputError(
            f"breeder {breeder.name!r} produced no valid new child in {MAX_ATTEMPTS} attempts "
            f"({discarded} discarded as duplicates or constraint violations; the last: {why}); {hint}"
        )
    return children, discarded, wanted


def _fixers():
    """``"fixers of plugins 'a', 'b'"``: the plugins whose gf_fix_child may have refused a child (pluggy
    says what each answered, not who; the built-in fixer never refuses)."""
    names = [impl.plugin_name for impl in plugins.get_plugin_manager().hook.gf_fix_child.get_hookimpls()
             if not impl.plugin_name.startswith("gf_plugins_builtin.")]
    return f"fixers of plugins {', '.join(map(repr, names))}" if names else "a built-in fixer"


def _proposed(breeder, request):
    """``breeder.breed(request)`` as a list of :class:`Child`; a breeder that returns anything else is named."""
    proposed = breeder.breed(request)
    try:
        iterator = iter(proposed)
    except TypeError:
        raise PluginError(f"breeder {breeder.name!r}: breed() returned {type(proposed).__name__} {proposed!r:.60}; "
                          "it must return a list of gf.Child(params, parents)") from None
    proposed = list(iterator)  # a generator's own errors go on up, to be reported where they happened
    if not proposed and request.attempt == 0:
        raise PluginError(f"breeder {breeder.name!r}: breed() returned no children; it must return a list of "
                          "gf.Child(params, parents), as many as request.population asks (or its own count when "
                          "that is None)")
    odd = next((item for item in proposed if not isinstance(item, Child)), None)
    if odd is not None:
        raise PluginError(f"breeder {breeder.name!r}: breed() returned a list holding {type(odd).__name__} "
                          f"{odd!r:.60}; it must return a list of gf.Child(params, parents)")
    return proposed


def _check_parents(conn, breeder, child, known):
    """Refuse (naming the breeder) a child whose parents are not stored groups, or that has none: its
    constraints come from its parents, so it would be stored with none, and so would its descendants."""
    if not child.parents:
        raise PluginError(f"breeder {breeder.name!r} gave a child no parents; a child's parents are the ids of the "
                          "groups it came from (its constraints are theirs)")
    unknown = [parent for parent in child.parents if parent not in known]
    if unknown:
        for parent in unknown:  # compared as SQLite compares them: the text "5" is group 5
            if conn.execute("SELECT 1 FROM groups WHERE id = ?", (parent,)).fetchone():
                known.add(parent)
        missing = [parent for parent in unknown if parent not in known]
        if missing:
            raise PluginError(f"breeder {breeder.name!r} gave a child the parent {missing[0]!r}, which is no group "
                              "in the database; a child's parents are the ids of the groups it came from")


def _missing(child, request):
    """``["... missing"]`` when ``child`` lacks a param its parents have (the program would fail reading it)."""
    names = set()
    for parent in child.parents:
        names.update(request.params.get(parent, ()))
    lacking = sorted(names - child.params.keys())
    if lacking:
        return [f"it lacks {', '.join(lacking[:3])}{' and more' if len(lacking) > 3 else ''}, which its parents have"]
    return []


def param_rows(params, types):
    """``(name, value_json, type_name, typed_json)`` rows of ``{name: value}`` for the store."""
    rows = []
    for name, value in sorted(params.items()):
        param_type = types.for_param(name)
        value = paramtypes.validated(param_type, value)  # as loading stores it: a float's 3 is 3.0 (one digest)
        text = values.encode(value)
        rows.append((name, text, param_type.name, paramtypes.typed_json(param_type, value, values.encode, text)))
    return rows


def store_children(conn, children, types, *, breeder, generation, loop_id=None, theirs=None):
    """Write children as new groups in one transaction; return their ids.

    A child another gf stored meanwhile (two coordinators breeding on one database: the default
    breeder's proposals are the same for the same scores) is checked again under the write lock,
    and left out. With ``theirs`` (a list), a generation of loop ``loop_id`` another coordinator of
    that loop stored first is taken as bred: nothing is stored, and ``theirs`` gets its groups."""
    ids, cache, stored = [], {}, {}
    with store.transaction(conn):
        if theirs is not None and loop_id is not None:
            theirs.extend(group for (group,) in conn.execute(
                "SELECT id FROM groups WHERE loop_id = ? AND generation = ? ORDER BY id", (loop_id, generation)))
            if theirs:
                return list(theirs)
        for child in children:
            rows = child.rows or param_rows(child.params, types)
            if conn.execute("SELECT 1 FROM groups WHERE digest = ?", (store.digest(rows),)).fetchone():
                continue
            parents = tuple(dict.fromkeys(child.parents))
            if parents not in stored:  # children mostly share their parents: their constraints' rows too
                stored[parents] = [constraint.stored() for constraint in constraints_of(conn, parents, cache)]
            ids.append(
                store.insert_group(
                    conn,
                    params=rows,
                    constraints=stored[parents],
                    origin=f"bred by {breeder}",
                    parents=child.parents,
                    generation=generation,
                    breeder=breeder,
                    loop_id=loop_id,
                )
            )
    return ids


def check_stored_types(conn, group_ids, types):
    """Refuse to breed from (or load on top of) groups holding a param of a type no loaded plugin
    provides: gf would type it by its name's suffix instead (a float, most often), and silently
    store the children's values as that."""
    known = {param_type.name for param_type in types}
    for start in range(0, len(group_ids), 500):
        chunk = list(group_ids[start:start + 500])
        row = conn.execute(
            f"SELECT group_id, param, name, type FROM params WHERE group_id IN ({','.join('?' * len(chunk))}) "
            f"AND type NOT IN ({','.join('?' * len(known))}) LIMIT 1", chunk + sorted(known)).fetchone()
        if row is not None:
            group, param, name, type_name = row
            full = store.join_name(param, name)
            raise PluginError(
                f"group {group}'s param {full} is of type {type_name!r}, which no loaded plugin provides (gf would "
                f"take it for a {types.for_param(full).name}); install the plugin that registers it, or allow it in "
                "GF_LOAD_PLUGINS (see `gf plugins list`)")


def many_group_values(conn, group_ids):
    """``{group_id: {full_name: value}}`` of many groups (decoded once per process, see :mod:`gf.values`)."""
    return values.many(conn, group_ids)


def group_values(conn, group_id):
    """``{full_name: value}`` of a stored group (values as bred, a choice keeps its list)."""
    return values.many(conn, [group_id])[group_id]
