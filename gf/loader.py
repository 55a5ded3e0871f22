"""The parameter file format: parse, validate, store as one group, and export back.

The seed's format, one item a line::

    seconds_15__stop_threshold__fast = 12.3      # name = <JSON value>
    runtime__exit_check_choice = ["custom", "defined"]
    seconds_15__stop_threshold__slow < seconds_15__stop_threshold__fast
    overall__decay_rate_int >= 1                 # a constraint: <, <=, >, >=

``#`` starts a comment, ``__`` nests names, names are case-insensitive (stored
lower-case), later lines and later files override earlier ones. Every problem is
reported as ``FILE:LINE: what is wrong`` before anything is written.
"""

import json
import math
import operator
import re
from dataclasses import dataclass, field

from gf import paramtypes, store
from gf.errors import LoadError

NAME = r"[A-Za-z_][A-Za-z0-9_]*"
NUMBER = r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"  # ASCII digits only
_TERM = rf"(?:{NAME}|{NUMBER})"
_CONSTRAINT = re.compile(rf"^\s*({_TERM})\s*(<=|>=|<|>)\s*({_TERM})\s*(?:#.*)?$")
_ASSIGNMENT = re.compile(r"^\s*([^=\s]+)\s*=(?!=)(.*)$")
_NAME = re.compile(rf"^{NAME}$")

OPERATORS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_FLIPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}
_DECODER = json.JSONDecoder()


@dataclass
class Param:
    """One parameter as loaded: its validated value, its type, and where it was set."""

    name: str
    value: object
    type: object
    where: tuple  # (path, line)


@dataclass(frozen=True)
class Constraint:
    """``lhs op rhs``: lhs is a parameter name, rhs a parameter name or a number."""

    lhs: str
    op: str
    rhs: object
    where: tuple = field(default=("", 0), compare=False)

    def __str__(self):
        return f"{self.lhs} {self.op} {format_number(self.rhs) if is_number(self.rhs) else self.rhs}"

    def stored(self):
        """The ``(lhs, op, rhs)`` row the store keeps (rhs as text)."""
        return (self.lhs, self.op, format_number(self.rhs) if is_number(self.rhs) else self.rhs)

    @classmethod
    def from_stored(cls, lhs, op, rhs, where=("", 0)):
        """The inverse of :meth:`stored`."""
        return cls(lhs, op, rhs if _NAME.match(rhs) else _number(rhs), where)


@dataclass
class ParsedGroup:
    """What a set of files (on top of an optional parent group) declares."""

    params: dict = field(default_factory=dict)  # name -> Param, in declaration order
    constraints: list = field(default_factory=list)
    warnings: list = field(default_factory=list)


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def format_number(number):
    return json.dumps(number)


def _number(text):
    """A constraint's number: an int when written as one (exactly), else a float."""
    return int(text) if re.fullmatch(r"-?[0-9]+", text) else float(text)


def check_name(name, where):
    """Validate and lower-case a parameter name; raise a located error if it is not one."""
    if not _NAME.match(name):
        raise LoadError(
            *where, f"{name!r} is not a parameter name: use letters, digits and _ (and __ to nest)"
        )
    if any(part == "" for part in name.split("__")):
        raise LoadError(*where, f"{name!r} has an empty part between __ separators")
    return name.lower()


def parse_lines(text, path, types, into):
    """Parse one file's text into ``into`` (a :class:`ParsedGroup`), overriding earlier values."""
    misspelt = _Misspelt(into, path)
    # Only \n ends a line (as in editors): str.splitlines() would also split on form
    # feeds and Unicode separators inside comments and JSON strings. A file whose lines
    # all end in a lone \r (classic Mac OS) is read as such.
    if "\r" in text and "\n" not in text.rstrip("\r"):
        text = text.replace("\r", "\n")
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        where = (path, number)
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        constraint = _CONSTRAINT.match(line)
        if constraint:
            _add_constraint(into, *constraint.groups(), where)
            continue
        assignment = _ASSIGNMENT.match(line)
        if not assignment:
            hint = " (== and != are not supported)" if re.search(r"[=!]=", line) else ""
            raise LoadError(
                *where, f"expected `name = <JSON value>` or a constraint like `a < b`{hint}, got {stripped[:60]!r}"
            )
        name = check_name(assignment.group(1), where)
        param_type = types.for_param(name)
        value = _parse_value(assignment.group(2), where, name, param_type)
        try:
            value = paramtypes.validated(param_type, value)
        except (ValueError, TypeError) as error:  # TypeError: a plugin's validate comparing a string, say
            raise LoadError(*where, f"{name}: value does not fit type {param_type.name}: {error}") from None
        misspelt.check(name, where)
        into.params.pop(name, None)  # an override moves to its new place, like a fresh line
        into.params[name] = Param(name, value, param_type, where)


class _Misspelt:
    """Warns (in ``into.warnings``) of a name set twice in one file, and of a new name in an
    override file one typo away from a name that an earlier file or the parent group set."""

    def __init__(self, into, path):
        self.into, self.path = into, path
        self.earlier = list(into.params)  # what the files before this one (or the parent) set
        self.index = None  # every earlier name with each of its letters left out in turn, built on first use
        self.lines = {}  # name -> the line of this file that set it

    def check(self, name, where):
        number = where[1]
        if name in self.lines:
            self.into.warnings.append(f"{self.path}:{number}: {name} is set again (first at line "
                                      f"{self.lines[name]}); the later value counts")
        self.lines[name] = number
        if name in self.into.params or not self.earlier or len(name) < MISSPELT_MIN_LENGTH:
            return
        if self.index is None:
            self.index = {}
            for known in self.earlier:
                for variant in _left_out(known):
                    self.index.setdefault(variant, []).append(known)
        numbered = re.compile(r"[0-9]+")
        for known in dict.fromkeys(known for variant in _left_out(name) for known in self.index.get(variant, ())):
            # seconds_45 beside seconds_15, ema_b beside ema_a: meant, not misspelt
            if (numbered.sub("#", known) != numbered.sub("#", name) and _typos(name, known) <= 1
                    and not _last_letter_differs(name, known)):
                source = self.into.params[known].where[0] if known in self.into.params else "an earlier file"
                self.into.warnings.append(f"{self.path}:{number}: {name} is a new param, not an override: "
                                          f"did you mean {known} (from {source})?")
                return


#: Names shorter than this are not checked for being a misspelt earlier name (x beside y is meant).
MISSPELT_MIN_LENGTH = 5


def _last_letter_differs(name, known):
    """Whether the two names differ in a last part of one letter (``ema_a``, ``ema_b``)."""
    head, _, last = name.rpartition("_")
    known_head, _, known_last = known.rpartition("_")
    return head == known_head and len(last) == len(known_last) == 1


def _left_out(word):
    """``word`` and ``word`` with each one of its letters left out: two words one typo apart share one."""
    return {word} | {word[:i] + word[i + 1:] for i in range(len(word))}


def _typos(a, b):
    """The letters left out, added, changed or swapped (next to each other) to turn ``a`` into ``b``."""
    previous, row = None, list(range(len(b) + 1))
    for i, letter in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, other in enumerate(b, start=1):
            current[j] = min(row[j] + 1, current[j - 1] + 1, row[j - 1] + (letter != other))
            if previous is not None and i > 1 and j > 1 and letter == b[j - 2] and a[i - 2] == other:
                current[j] = min(current[j], previous[j - 2] + 1)
        previous, row = row, current
    return row[-1]


def _parse_value(text, where, name="name", param_type=None):
    body = text.strip()
    if not body:
        raise LoadError(*where, "missing value after `=`: write a JSON value such as 1.5, 3, true or [\"a\", \"b\"]")
    try:
        value, end = _DECODER.raw_decode(body)
    except json.JSONDecodeError as error:
        raise LoadError(*where, f"invalid JSON value {body[:40]!r}: {error.msg} (column {error.colno})"
                                f"{_value_hint(body, name, param_type)}") from None
    except ValueError:  # an integer with more digits than Python converts
        raise LoadError(*where, "a number with too many digits; use at most 4300") from None
    except RecursionError:
        raise LoadError(*where, "a value nested too deeply; flatten it") from None
    rest = body[end:].strip()
    if rest and not rest.startswith("#"):
        raise LoadError(*where, f"unexpected text after the value: {rest[:40]!r} (comments start with #)")
    return value


def _value_hint(body, name, param_type):
    """What a value of ``name`` (of ``param_type``, if known) that is not JSON was probably meant to be,
    as ``"; ..."``, or ``""``."""
    body = re.sub(r"\s+#.*$", "", body)  # a comment after the value
    word = re.fullmatch(r"[A-Za-z_][\w.-]*", body)
    if word:
        lowered = body.lower()
        if lowered in ("true", "false"):
            return f"; JSON writes it {lowered}"
        if lowered in ("nan", "inf", "infinity"):
            return "; only finite numbers are values"
        type_name = getattr(param_type, "name", None)
        if type_name == "choice":
            return f'; a choice is a list of quoted options, as in ["{body}", "other"]'
        if type_name == "bool":
            return "; a bool is true or false"
        if getattr(param_type, "numeric", False):  # float, int, real_*, a plugin's numeric type
            return f"; {name} takes a number"
        return f'; a string is quoted: "{body}"'
    operator = re.match(r"[<>=]+", body)
    if operator and ("<" in operator.group(0) or ">" in operator.group(0)):
        side, number = ("<" if "<" in operator.group(0) else ">"), body[operator.end():].strip()
        if "=" in operator.group(0):
            return f"; a constraint is written `{name} {side}= {number}`"
        # `x =< 3` reaches here as "< 3": the = was taken for an assignment's
        return f"; a constraint is written `{name} {side} {number}` or `{name} {side}= {number}`"
    if body.startswith("["):
        words = re.findall(r"(?<![\w\"])[A-Za-z_][\w.-]*(?![\w\"])", body)
        if words:
            return "; strings in a list are quoted, as in [" + ", ".join(f'"{w}"' for w in words[:4]) + "]"
    return ""


def _add_constraint(into, left, op, right, where):
    left_is_name, right_is_name = bool(_NAME.match(left)), bool(_NAME.match(right))
    if not left_is_name and not right_is_name:
        raise LoadError(*where, f"constraint {left} {op} {right} relates two numbers; name a parameter on one side")
    if not left_is_name:  # 3 < x is stored as x > 3
        left, op, right = right, _FLIPPED[op], left
        left_is_name, right_is_name = True, False
    lhs = check_name(left, where)
    if right_is_name:
        rhs = check_name(right, where)
    else:
        try:
            rhs = _number(right)
        except ValueError:  # more digits than Python converts
            raise LoadError(*where, f"constraint number {right[:20]}... is too long; use a shorter number") from None
    if isinstance(rhs, float) and not math.isfinite(rhs):
        raise LoadError(*where, f"constraint number {right} is out of range; use a finite number")
    if lhs == rhs:
        raise LoadError(*where, f"constraint {lhs} {op} {rhs} relates a parameter to itself")
    constraint = Constraint(lhs, op, rhs, where)
    if constraint not in into.constraints:
        into.constraints.append(constraint)


def _read(path):
    try:
        data = open(path, "rb").read()
    except OSError as error:
        raise LoadError(path, 0, f"cannot read file: {error.strerror or error}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise LoadError(path, line, "not valid UTF-8 text; save the file as UTF-8") from None


def check(parsed, origin_path):
    """Whole-group checks: names that are both a value and a group, and every constraint."""
    if not parsed.params:
        raise LoadError(origin_path, 0, "no parameters found; write lines like `name = 1.5`")
    position = {name: index for index, name in enumerate(parsed.params)}
    for name, param in parsed.params.items():
        parts = name.split("__")
        for end in range(1, len(parts)):
            prefix = "__".join(parts[:end])
            if prefix in position:
                later = max(name, prefix, key=position.get)
                raise LoadError(
                    *parsed.params[later].where,
                    f"{name} puts a group under {prefix}, which is already a value; rename one of them",
                )
    for constraint in parsed.constraints:
        check_constraint(parsed, constraint)
    _warn_shadowed(parsed)


def _warn_shadowed(parsed):
    """Names whose first part is also a GeneticFuckery attribute cannot be read as g.name."""
    from gf.params import GeneticFuckery

    taken = {name for name in dir(GeneticFuckery) if not name.startswith("__")}
    taken |= {"dbfile", "group", "dataset", "family"}  # set on every instance
    for first in dict.fromkeys(name.split("__")[0] for name in parsed.params):
        if first in taken:
            kind = "method" if callable(getattr(GeneticFuckery, first, None)) else "attribute"
            parsed.warnings.append(f"{first} is also a GeneticFuckery {kind}: read it as g[{first!r}], not g.{first}")


def _from_parent(where):
    """Items inherited with ``--parent`` are located at line 0 of ``group N``."""
    return where[1] == 0


def check_constraint(parsed, constraint):
    """Raise a located error unless ``constraint`` names numeric params and holds."""
    sides = [constraint.lhs] + ([constraint.rhs] if isinstance(constraint.rhs, str) else [])
    values = []
    for side in sides:
        param = parsed.params.get(side)
        if param is None:
            import difflib

            close = difflib.get_close_matches(side, parsed.params, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise LoadError(*constraint.where, f"constraint {constraint} names unknown parameter {side}{hint}")
        if not param.type.numeric:
            raise LoadError(
                *constraint.where, f"constraint {constraint} needs numbers, but {side} is a {param.type.name}"
            )
        if not isinstance(param.value, (int, float)) or isinstance(param.value, bool):
            raise LoadError(*constraint.where, f"constraint {constraint} needs numbers, but {side} = "
                                               f"{json.dumps(param.value)}")
        values.append(param.value)  # as written, as breeding compares them: the units the file uses
    right = values[1] if len(values) == 2 else constraint.rhs
    if not OPERATORS[constraint.op](values[0], right):
        shown = ", ".join(f"{side} = {value}" for side, value in zip(sides, values))
        where = constraint.where
        if _from_parent(where):  # an inherited constraint broken by a new value: point at the value
            overrides = [parsed.params[side].where for side in sides if not _from_parent(parsed.params[side].where)]
            where = overrides[-1] if overrides else where
        raise LoadError(*where, f"constraint {constraint} does not hold: {shown}")


def parse_files(paths, types, base=None):
    """Parse and check ``paths`` (later override earlier) on top of ``base``; return a ParsedGroup."""
    parsed = base or ParsedGroup()
    for path in paths:
        parse_lines(_read(path), str(path), types, parsed)
    check(parsed, str(paths[-1]) if paths else "")
    return parsed


def parsed_from_group(conn, group_id, types):
    """A stored group as a :class:`ParsedGroup`, the base of ``gf load --parent``."""
    from gf import breeding

    breeding.check_stored_types(conn, [group_id], types)
    where = (f"group {group_id}", 0)
    parsed = ParsedGroup()
    for name, value, _type_name, _typed in store.group_params(conn, group_id):
        parsed.params[name] = Param(name, json.loads(value), types.for_param(name), where)
    parsed.constraints = [Constraint.from_stored(*row, where) for row in store.group_constraints(conn, group_id)]
    return parsed


def group_rows(parsed):
    """``(name, value_json, type_name, typed_json)`` rows for :func:`gf.store.insert_group`."""
    return [
        (name, json.dumps(param.value), param.type.name, paramtypes.typed_json(param.type, param.value, json.dumps))
        for name, param in parsed.params.items()
    ]


def load(conn, paths, types, *, parent=None, db_path="", parsed=None):
    """Load ``paths`` as one new group (on top of group ``parent``) in one transaction; return its id.

    :param parsed: the files already parsed by :func:`parse_files` (without ``parent``).
    """
    paths = [str(path) for path in paths]
    if parsed is None:
        base = None
        if parent is not None:
            store.require_group(conn, parent, db_path)
            base = parsed_from_group(conn, parent, types)
        parsed = parse_files(paths, types, base)
    origin = "load " + " ".join(paths) + (f" on group {parent}" if parent is not None else "")
    rows, constraints = group_rows(parsed), [c.stored() for c in parsed.constraints]
    with store.transaction(conn):
        group = existing_group(conn, rows, parsed.constraints, parsed.warnings)
        if group is not None:
            return group, parsed
        group_id = store.insert_group(
            conn,
            params=rows,
            constraints=constraints,
            origin=origin,
            parents=[parent] if parent is not None else [],
        )
    return group_id, parsed


def existing_group(conn, rows, constraints, warnings):
    """The group that already has these param ``rows`` and ``constraints`` (a new one would be a copy to
    evaluate again), or ``None``; appends to ``warnings`` what the caller tells the user. Call it inside
    the transaction that stores the group."""
    same = [group for (group,) in conn.execute("SELECT id FROM groups WHERE digest = ? ORDER BY id",
                                               (store.digest(rows),))]
    wanted = {_meaning(constraint) for constraint in constraints}
    for group in same:
        if {_meaning(Constraint.from_stored(*row)) for row in store.group_constraints(conn, group)} == wanted:
            warnings.append(f"group {group} already has these values and constraints: nothing loaded")
            return group
    if same:
        warnings.append(f"group {same[0]} has the same values (with other constraints): runs of both will "
                        "repeat each other")
    return None


def _meaning(constraint):
    """What a constraint says, however written: `a < b` is `b > a`, `a >= 1` is `a >= 1.0`."""
    lhs, op, rhs = constraint.lhs, constraint.op, constraint.rhs
    if isinstance(rhs, str) and rhs < lhs:
        return rhs, _FLIPPED[op], lhs
    return lhs, op, rhs


def load_into(db_path, paths, types, *, parent=None):
    """``gf load``: the files are checked before the database is opened, so a bad file
    never creates (or touches) a database; returns ``(group_id, parsed)``."""
    parsed = parse_files([str(path) for path in paths], types) if parent is None else None
    conn = store.connect(db_path, create=parent is None)
    try:
        return load(conn, paths, types, parent=parent, db_path=db_path, parsed=parsed)
    finally:
        # closed here, not whenever the garbage collector gets to it: the last connection to
        # close folds the write-ahead log into the file, which must happen before gf exits
        # (or before a test compares the file's bytes)
        conn.close()


def export(conn, group_id, db_path=""):
    """A group in the loader's format: ``gf load`` of this text recreates the same group."""
    store.require_group(conn, group_id, db_path)
    lines = [f"# group {group_id} of {db_path}" if db_path else f"# group {group_id}"]
    lines += [f"{name} = {value}" for name, value, _type, _typed in store.group_params(conn, group_id)]
    constraints = store.group_constraints(conn, group_id)
    if constraints:
        lines += ["", "# constraints"]
        lines += [f"{lhs} {op} {rhs}" for lhs, op, rhs in constraints]
    return "\n".join(lines) + "\n"
