"""Property tests of the loader: random valid groups round-trip, random junk fails cleanly.

Every example works on real SQLite files in its own temporary directory (pytest's
``tmp_path`` is shared by all the examples of one test, so it is not used here).
"""

import json
import math
import operator
import os
import re
import tempfile

from click.testing import CliRunner
from hypothesis import HealthCheck, assume, event, example, given, settings
from hypothesis import strategies as st

import gf
from gf import loader, plugins, store
from gf.cli import cli
from gf.errors import LoadError

# -- what the format promises, written independently of gf -------------------------------

#: Type suffixes of the built-in types; the longest matching suffix wins, no suffix is float.
SUFFIXES = {"_real_0": "real_0", "_real_1": "real_1", "_choice": "choice", "_bool": "bool", "_int": "int"}
NUMERIC = {"float", "int", "real_0", "real_1"}
OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}
ASCII_NUMBER = r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"  # a number in a constraint
NUMBER = ASCII_NUMBER.replace("[0-9]", r"\d")  # for junk: \d also matches non-ASCII digits


def type_of(name):
    for suffix in sorted(SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return SUFFIXES[suffix]
    return "float"


def normalized(type_name, value):
    """The value a type stores (``5.0`` -> ``5`` for an int, ``1`` -> ``true`` for a bool, ``1`` -> ``1.0``
    for a float, so a loaded ``x = 1`` and a bred 1.0 are one group)."""
    if type_name == "int":
        return int(value)
    if type_name == "bool":
        return bool(value)
    if type_name in ("float", "real_0", "real_1"):
        return float(value)
    return value


def reads_as(type_name, value):
    """What the program reads with dot access."""
    if type_name in ("float", "real_0", "real_1"):
        return float(value)
    if type_name == "choice":
        return value[0]
    return normalized(type_name, value)


def number_value(text):
    """The number a constraint's number text means: an integer literal exactly, else a float."""
    return int(text) if re.fullmatch(r"-?[0-9]+", text) else float(text)


def in_range(text):
    """Whether a constraint's number text is one gf takes: a float must not overflow to infinity."""
    return math.isfinite(number_value(text)) if "." in text or "e" in text.lower() else True


def canonical(value):
    """JSON text that tells -0.0 from 0.0 and 1 from 1.0 from true, for exact comparisons."""
    return json.dumps(value)


# -- strategies ---------------------------------------------------------------------------

# A line never holds \n or \r; every other character may appear in comments and strings.
LINE_CHAR = st.characters(blacklist_characters="\n\r", blacklist_categories=("Cs",))
PLAIN_CHAR = st.characters(min_codepoint=0x20, max_codepoint=0x7E)

# Identifier parts with no leading, trailing or doubled underscore: joined by __ they
# split back into exactly these parts. (Built from pieces: st.from_regex is slow.)
LOWER, DIGIT = "abcdefghijklmnopqrstuvwxyz", "0123456789"
PART = st.builds(
    lambda first, rest: first + "".join(rest),
    st.sampled_from(LOWER),
    st.lists(st.sampled_from([*LOWER, *DIGIT]) | st.sampled_from([f"_{c}" for c in LOWER + DIGIT]), max_size=5),
)
SUFFIX = st.sampled_from([""] + list(SUFFIXES))

FINITE = st.floats(allow_nan=False, allow_infinity=False)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | FINITE | st.text(LINE_CHAR | st.sampled_from("\n\r"), max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)

VALUES = {
    "float": FINITE | st.integers(-(2**70), 2**70),
    "int": st.integers() | st.integers(-(2**60), 2**60).map(float),
    "bool": st.booleans() | st.sampled_from([0, 1]),
    # options are distinct plain values (as Python compares them: 1, 1.0 and true are one)
    "choice": st.lists(st.booleans() | st.integers() | FINITE | st.text(LINE_CHAR | st.sampled_from("\n\r"),
                                                                        max_size=8),
                       min_size=1, max_size=4, unique=True),
    "real_0": st.floats(0, 1) | st.sampled_from([0, 1]),
    "real_1": st.floats(1, 2) | st.sampled_from([1, 2]),
}

NUMBER_TEXT = st.one_of(
    st.integers().map(str),
    FINITE.map(json.dumps),
    # Any number text the format allows, e.g. -00.5e+3, .25, 7., 1E5 (ASCII_NUMBER, built from pieces).
    st.builds(
        lambda sign, mantissa, exponent: sign + mantissa + exponent,
        st.sampled_from(["", "-"]),
        st.one_of(
            st.text(DIGIT, min_size=1, max_size=30),
            st.builds(lambda a, b: f"{a}.{b}", st.text(DIGIT, min_size=1, max_size=20), st.text(DIGIT, max_size=20)),
            st.text(DIGIT, min_size=1, max_size=20).map(lambda b: f".{b}"),
        ),
        st.just("")
        | st.builds(str.__add__, st.sampled_from(["e", "E", "e+", "e-", "E-"]), st.text(DIGIT, min_size=1, max_size=3)),
    ).filter(in_range),
)
PLAIN_NUMBER_TEXT = st.integers(-(2**50), 2**50).map(str) | st.floats(-1e300, 1e300).map(json.dumps)


def prefix_free(names):
    """Drop duplicates and any name that would be both a value and a group of another."""
    kept = []
    for name in names:
        if any(name == other or name.startswith(other + "__") or other.startswith(name + "__") for other in kept):
            continue
        kept.append(name)
    return kept


def recase(name, how):
    if how == "upper":
        return name.upper()
    if how == "title":
        return name.title()
    if how == "mixed":
        return "".join(c.upper() if i % 2 else c for i, c in enumerate(name))
    return name


@st.composite
def valid_groups(draw, first_prefix="", plain=False):
    """A valid parameter file and what loading it must store.

    Returns ``(lines, params, constraints)``: the file's lines; ``{name: (type, value)}``
    with values as the types normalize them; the ``(lhs, op, rhs_text)`` rows the
    store must keep, in declaration order.
    """
    raw_names = draw(
        st.lists(st.tuples(st.lists(PART, min_size=1, max_size=3), SUFFIX), min_size=1, max_size=7)
    )
    names = prefix_free([first_prefix + "__".join(parts) + suffix for parts, suffix in raw_names])
    params = {}
    entries = []  # ("param", ...) and ("constraint", ...) lines, in an order drawn below
    comment = st.text(PLAIN_CHAR if plain else LINE_CHAR, max_size=12)
    for name in names:
        type_name = type_of(name)
        value = draw(VALUES[type_name])
        params[name] = (type_name, normalized(type_name, value))
        text = json.dumps(value, ensure_ascii=plain or draw(st.booleans()))
        equals = draw(st.sampled_from(["=", " = ", "  =\t", "= "]))
        tail = draw(st.none() | comment.map(lambda c: "  # " + c)) or ""
        entries.append(("param", (name, equals, text, tail)))

    numeric = [name for name in names if params[name][0] in NUMERIC]

    def compared(name):
        type_name, value = params[name]
        return int(value) if type_name == "int" else float(value)

    for _ in range(draw(st.integers(0, 5)) if numeric else 0):
        lhs = draw(st.sampled_from(numeric))
        others = [name for name in numeric if name != lhs]
        if others and draw(st.booleans()):
            rhs = draw(st.sampled_from(others))
            rhs_text, right = rhs, compared(rhs)
        else:
            rhs_text = draw(PLAIN_NUMBER_TEXT if plain else NUMBER_TEXT)
            assert re.fullmatch(ASCII_NUMBER, rhs_text), rhs_text
            right = number_value(rhs_text)
            rhs = right
        op = draw(st.sampled_from([op for op, holds in OPS.items() if holds(compared(lhs), right)]))
        flipped = isinstance(rhs, (int, float)) and draw(st.booleans())
        entries.append(("constraint", (lhs, op, rhs, rhs_text, flipped)))

    entries = draw(st.permutations(entries))
    lines, constraints, seen = [], [], []
    for kind, payload in entries:
        for _ in range(draw(st.integers(0, 1))):
            lines.append(draw(st.sampled_from(["", "   ", "#", "\t# note"]) | comment.map(lambda c: "# " + c)))
        how = draw(st.sampled_from(["lower", "upper", "title", "mixed"]))
        if kind == "param":
            name, equals, text, tail = payload
            lines.append(f"{recase(name, how)}{equals}{text}{tail}")
            continue
        lhs, op, rhs, rhs_text, flipped = payload
        rhs_shown = recase(rhs_text, how) if isinstance(rhs, str) else rhs_text
        if flipped:
            lines.append(f"{rhs_text} {FLIP[op]} {recase(lhs, how)}")
        else:
            lines.append(f"{recase(lhs, how)} {op} {rhs_shown}")
        if (lhs, op, rhs) not in seen:  # a repeated constraint is kept once
            seen.append((lhs, op, rhs))
            constraints.append((lhs, op, rhs if isinstance(rhs, str) else json.dumps(rhs)))
    return lines, params, constraints


# -- helpers ------------------------------------------------------------------------------


def write(path, lines):
    with open(path, "w", encoding="utf-8", newline="") as file:
        file.write("\n".join(lines) + "\n")


def gf_load(runner, db, path):
    result = runner.invoke(cli, ["load", "--db", db, path], catch_exceptions=False)
    assert result.exit_code == 0, f"gf load {path} failed: {result.stderr}"
    return int(result.stdout.strip())


def stored(db, group_id):
    conn = store.connect(db, create=False)
    try:
        return store.group_params(conn, group_id), store.group_constraints(conn, group_id)
    finally:
        conn.close()


def row_counts(db):
    """How many groups and params the database holds."""
    conn = store.connect(db, create=False)
    try:
        return conn.execute("SELECT count(*) FROM groups").fetchone()[0], conn.execute(
            "SELECT count(*) FROM params"
        ).fetchone()[0]
    finally:
        conn.close()


def read_dotted(g, name):
    """``g.a.b.c`` for ``a__b__c`` (``g["a"]`` when ``a`` is one of GeneticFuckery's own names)."""
    first, *rest = name.split("__")
    node = g[first] if first in vars(g) or hasattr(type(g), first) else getattr(g, first)
    for part in rest:
        node = getattr(node, part)
    return node


def assert_matches(params, constraints, expected_params, expected_constraints):
    got = {name: (type_name, json.loads(value), json.loads(typed)) for name, value, type_name, typed in params}
    want = {
        name: (type_name, value, reads_as(type_name, value)) for name, (type_name, value) in expected_params.items()
    }
    assert {name: (t, canonical(v), canonical(r)) for name, (t, v, r) in got.items()} == {
        name: (t, canonical(v), canonical(r)) for name, (t, v, r) in want.items()
    }
    assert constraints == expected_constraints


# -- 1. round trip ------------------------------------------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_groups())
# Found by this test; kept so that they are always tried.
@example((["a = 1  # \x0c2"], {"a": ("float", 1.0)}, []))  # a form feed in a comment is no line break
@example((['a_choice = ["\u2028"]'], {"a_choice": ("choice", ["\u2028"])}, []))  # nor U+2028 in a string
@example(  # a constraint's whole number is compared exactly, not rounded to a float
    (
        ["a_int = 100000000000000000000001", "a_int >= 100000000000000000000001"],
        {"a_int": ("int", 10**23 + 1)},
        [("a_int", ">=", "100000000000000000000001")],
    )
)
def test_random_valid_groups_round_trip_through_load_and_export(group):
    lines, expected_params, expected_constraints = group
    runner = CliRunner()
    with tempfile.TemporaryDirectory() as tmp:
        db, source, exported = (os.path.join(tmp, name) for name in ("gf.db", "params.txt", "export.txt"))
        write(source, lines)
        first = gf_load(runner, db, source)

        export = runner.invoke(cli, ["export", "--db", db, str(first)], catch_exceptions=False)
        assert export.exit_code == 0, export.stderr
        with open(exported, "w", encoding="utf-8", newline="") as file:
            file.write(export.stdout)
        # Into the same database it is the same group (nothing is stored twice); into another, a copy.
        assert gf_load(runner, db, exported) == first
        copy_db = os.path.join(tmp, "copy.db")
        second = gf_load(runner, copy_db, exported)

        params, constraints = stored(db, first)
        assert (params, constraints) == stored(copy_db, second)
        assert_matches(params, constraints, expected_params, expected_constraints)

        # Exporting the copy gives the same text, but for the header naming the group and database.
        again = runner.invoke(cli, ["export", "--db", copy_db, str(second)], catch_exceptions=False).stdout
        assert again.split("\n", 1)[1] == export.stdout.split("\n", 1)[1]

        g = gf.GeneticFuckery(dbfile=copy_db, pid=second)
        try:
            for name, (type_name, value) in expected_params.items():
                got, want = read_dotted(g, name), reads_as(type_name, value)
                assert type(got) is type(want) and canonical(got) == canonical(want), name
        finally:
            g.close()


# -- 2. junk ------------------------------------------------------------------------------

PART_NAME = st.builds(lambda parts, suffix: "__".join(parts) + suffix, st.lists(PART, min_size=1, max_size=2), SUFFIX)
NAME_LIKE = st.one_of(
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True), PART_NAME, PART_NAME, st.text(LINE_CHAR, max_size=8)
)
SOUP = st.lists(
    st.sampled_from(list("=[]{}\"'#<>!,:-.+0123456789 \t_eE\\") + ["==", "__", "true", "null", "NaN", "Infinity"])
    | LINE_CHAR,
    max_size=12,
).map("".join)
VALUE_LIKE = st.one_of(
    JSON.map(json.dumps),
    JSON.map(lambda value: json.dumps(value, ensure_ascii=False)),
    st.tuples(JSON.map(json.dumps), st.integers(0, 20)).map(lambda pair: pair[0][: pair[1]]),  # cut short
    st.from_regex(NUMBER, fullmatch=True),
    SOUP,
    # Sizes just within and just beyond float range, int()'s digit limit, the recursion limit.
    st.sampled_from([f"1{'0' * 300}", f"1{'0' * 400}", f"-{'9' * 400}"]),
    st.sampled_from([f"[{'7' * 4000}]", f"[{'7' * 4400}]", f"{'8' * 4400}"]),
    # (Hypothesis raises the recursion limit while a test runs: nest deep enough to pass it.)
    st.sampled_from([f"{'[' * 500}{']' * 500}", "[" * 20_000, '{"a":' * 5_000]),
)
STRUCTURED = st.builds(
    lambda name, op, value, tail: f"{name} {op} {value}{tail}",
    NAME_LIKE,
    st.sampled_from(["="] * 8 + ["==", "!=", "<", "<=", ">", ">=", "=<", "=>", "", "= ="]),
    VALUE_LIKE,
    st.sampled_from(["", " # c", " junk", "#"]),
)
JUNK_LINE = st.one_of(st.text(LINE_CHAR, max_size=30), SOUP, STRUCTURED, STRUCTURED)
JUNK_BASE = (["gfva = 1"], {"gfva": ("float", 1)}, [])


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    valid_groups(first_prefix="gfv", plain=True),
    st.lists(st.tuples(st.integers(0), JUNK_LINE), min_size=1, max_size=3),  # (where it goes, the line)
)
# Found by this test; kept so that they are always tried.
@example(JUNK_BASE, [(1, "a = 1" + "0" * 400)])  # beyond float range
@example(JUNK_BASE, [(1, "a_choice = [" + "7" * 4400 + "]")])  # beyond int()'s digit limit
@example(JUNK_BASE, [(1, "a = " + "[" * 20_000)])  # beyond the recursion limit
@example(JUNK_BASE, [(1, "a < " + "8" * 4400)])  # a constraint's number beyond int()'s digit limit
@example(JUNK_BASE, [(1, "# \x0cjunk")])  # a form feed is no line break: the error is on line 2
def test_junk_lines_fail_with_their_own_location_or_load(group, junk):
    valid_lines, _, expected_constraints = group
    # The valid part's names all start with gfv; junk that names them could legitimately
    # move an error onto a valid line (by overriding a value a constraint checks).
    assume(not any("gfv" in text.lower() for _, text in junk))
    tagged = [(line, False) for line in valid_lines]
    for position, text in junk:
        tagged.insert(position % (len(tagged) + 1), (text, True))
    lines = [line for line, _ in tagged]
    junk_lines = {number for number, (_, is_junk) in enumerate(tagged, start=1) if is_junk}
    types = plugins.get_types()
    with tempfile.TemporaryDirectory() as tmp:
        db, valid, mixed = (os.path.join(tmp, name) for name in ("gf.db", "valid.txt", "mixed.txt"))
        write(valid, valid_lines)
        write(mixed, lines)
        conn = store.connect(db)
        try:
            base, _ = loader.load(conn, [valid], types, db_path=db)  # the valid part alone loads
            before = row_counts(db)
            try:
                group_id, _ = loader.load(conn, [mixed], types, db_path=db)
            except LoadError as error:
                event("junk: LoadError")
                message = str(error)
                assert error.path == mixed and error.line in junk_lines, (message, sorted(junk_lines))
                assert message.startswith(f"{mixed}:{error.line}: "), message
                assert row_counts(db) == before, "a failed load wrote something"
            else:
                event("junk: loaded")
                params, constraints = stored(db, group_id)
                if group_id == base:  # the junk added nothing (a comment): the same group, nothing written
                    assert row_counts(db) == before and (params, constraints) == stored(db, base)
                else:
                    assert row_counts(db)[0] == before[0] + 1
                ours = [row for row in params if row[0].startswith("gfv")]
                assert ours == stored(db, base)[0]
                assert [c for c in constraints if c in expected_constraints] == expected_constraints
        finally:
            conn.close()
