"""gf load: the seed's format, constraints, overrides, located errors, export round trip."""

import json
import os

import pytest

from gf import loader, plugins, store
from conftest import count_rows

SEED_FILE = """\
seconds_15__stop_threshold__fast = 12.3
seconds_15__stop_threshold__slow = 7.2
seconds_30__stop_threshold__fast = 22.2
seconds_30__stop_threshold__slow = 17.9

# more things...
overall__decay_rate_int  = 5
runtime__single_trigger_bool = 1
runtime__exit_check_choice = ["custom", "defined", "30 seconds", "on-demand"]
"""


def stored(db_path, group_id):
    conn = store.connect(db_path, create=False)
    params = {name: (json.loads(value), type_name) for name, value, type_name, _ in store.group_params(conn, group_id)}
    return params, store.group_constraints(conn, group_id)


def test_seed_file_loads_as_group_1_with_types_by_suffix(load_text, db_path):
    assert load_text(SEED_FILE) == 1
    params, constraints = stored(db_path, 1)
    assert params == {
        "seconds_15__stop_threshold__fast": (12.3, "float"),
        "seconds_15__stop_threshold__slow": (7.2, "float"),
        "seconds_30__stop_threshold__fast": (22.2, "float"),
        "seconds_30__stop_threshold__slow": (17.9, "float"),
        "overall__decay_rate_int": (5, "int"),
        "runtime__single_trigger_bool": (True, "bool"),
        "runtime__exit_check_choice": (["custom", "defined", "30 seconds", "on-demand"], "choice"),
    }
    assert constraints == []


def test_params_split_into_the_seeds_param_and_name(load_text, db_path):
    load_text("a__b__c = 1\ntop = 2\n")
    conn = store.connect(db_path, create=False)
    assert sorted(conn.execute("SELECT param, name FROM params")) == [("", "top"), ("a__b", "c")]


def test_each_load_is_a_new_group(load_text):
    assert load_text("a = 1") == 1
    assert load_text("a = 2") == 2


def test_loading_the_same_values_again_stores_no_copy(tmp_path, db_path, run_gf, load_text):
    """A copy would be evaluated again on every dataset and ranked as a group of its own."""
    assert load_text("a = 1\nb = 2\na < b\n") == 1
    (tmp_path / "again.js").write_text("b = 2\na = 1.0\na < b\n")  # the same values, written otherwise
    result = run_gf("load", "--db", db_path, tmp_path / "again.js")
    assert (result.exit_code, result.stdout) == (0, "1\n")
    assert result.stderr == "warning: group 1 already has these values and constraints: nothing loaded\n"
    (tmp_path / "reordered.js").write_text("b > a\nb = 2\na = 1\n")  # `a < b` is `b > a`, in any order
    assert run_gf("load", "--db", db_path, tmp_path / "reordered.js").stdout == "1\n"
    (tmp_path / "same.js").write_text("b = 2\n")
    assert run_gf("load", "--db", db_path, "--parent", "1", tmp_path / "same.js").stdout == "1\n"
    assert count_rows(db_path, "groups") == 1
    # other constraints make another group, with a word that its values repeat group 1's
    (tmp_path / "loose.js").write_text("a = 1\nb = 2\n")
    result = run_gf("load", "--db", db_path, tmp_path / "loose.js")
    assert (result.exit_code, result.stdout) == (0, "2\n")
    assert "group 1 has the same values (with other constraints)" in result.stderr


def test_later_files_and_lines_override_earlier_ones(tmp_path, db_path, run_gf):
    (tmp_path / "first.js").write_text("a = 1\nb_int = 2\nB_INT = 3\n")
    (tmp_path / "override.js").write_text("A = 10  # trailing comment\n")
    result = run_gf("load", "--db", db_path, tmp_path / "first.js", tmp_path / "override.js")
    assert result.exit_code == 0 and result.stdout == "1\n"
    assert stored(db_path, 1)[0] == {"a": (10.0, "float"), "b_int": (3, "int")}
    origin = store.list_groups(store.connect(db_path))[0]["origin"]
    assert "first.js" in origin and "override.js" in origin


def test_a_misspelt_override_and_a_name_set_twice_are_warned_of(tmp_path, db_path, run_gf):
    (tmp_path / "base.js").write_text("seconds_15__stop_threshold__fast = 12.3\nrate = 1\nrate = 2\n")
    (tmp_path / "ov.js").write_text("seconds_15__stop_treshold__fast = 11\nseconds_45__stop_threshold__fast = 5\n"
                                    "rate = 3\nbrand_new = 1\nseconds_15__stop_threshold__slow = 1\n")
    result = run_gf("load", "--db", db_path, tmp_path / "base.js", tmp_path / "ov.js")
    assert result.exit_code == 0 and result.stdout == "1\n"  # warnings, not errors: the group is loaded
    base, ov = tmp_path / "base.js", tmp_path / "ov.js"
    assert result.stderr.splitlines() == [
        f"warning: {base}:3: rate is set again (first at line 2); the later value counts",
        f"warning: {ov}:1: seconds_15__stop_treshold__fast is a new param, not an override: did you mean "
        f"seconds_15__stop_threshold__fast (from {base})?",
    ]  # seconds_45 differs only by its number, __slow from __fast by four letters, brand_new is like
    # nothing before it: new params, meant as such
    result = run_gf("load", "--db", db_path, "--parent", "1", tmp_path / "ov.js")
    # group 1 has them all now (so no typo warning), with the very same values: nothing new to load
    assert result.exit_code == 0 and result.stderr.splitlines() == [
        "warning: group 1 already has these values and constraints: nothing loaded"]
    # one-letter last parts (ema_a, ema_b) and names under 5 letters (rate_x) are meant, not misspelt
    (tmp_path / "ov3.js").write_text("ema_a = 1\nrat = 3\n")
    (tmp_path / "ov4.js").write_text("ema_b = 1\nrats = 3\n")
    result = run_gf("load", "--db", db_path, tmp_path / "ov3.js", tmp_path / "ov4.js")
    assert (result.exit_code, result.stderr) == (0, "")
    (tmp_path / "ov2.js").write_text("brand_nwe = 2\n")
    result = run_gf("load", "--db", db_path, "--parent", "1", tmp_path / "ov2.js")
    assert result.stderr == (f"warning: {tmp_path / 'ov2.js'}:1: brand_nwe is a new param, not an override: "
                             "did you mean brand_new (from group 1)?\n")


def test_values_are_normalized_by_their_type(load_text, db_path):
    load_text("x = 5\ny_int = 5.0\nz_bool = 0\nw_real_0 = 1\nv_real_1 = 1.5\n")
    assert stored(db_path, 1)[0] == {
        "x": (5.0, "float"),
        "y_int": (5, "int"),
        "z_bool": (False, "bool"),
        "w_real_0": (1, "real_0"),
        "v_real_1": (1.5, "real_1"),
    }


def test_constraints_are_stored_normalized_with_the_number_on_the_right(load_text, db_path):
    load_text("fast = 12.3\nslow = 7.2\nn_int = 4\nslow < fast\n1 <= n_int\nn_int<10\nslow < fast\n")
    assert stored(db_path, 1)[1] == [("slow", "<", "fast"), ("n_int", ">=", "1"), ("n_int", "<", "10")]


def test_parent_override_inherits_params_and_constraints(load_text, db_path):
    load_text("fast = 12.3\nslow = 7.2\nkeep_int = 1\nslow < fast\n")
    child = load_text("fast = 20\n", "--parent", 1)
    params, constraints = stored(db_path, child)
    assert params == {"fast": (20.0, "float"), "slow": (7.2, "float"), "keep_int": (1, "int")}
    assert constraints == [("slow", "<", "fast")]
    assert store.group_parents(store.connect(db_path), child) == [1]


def test_parent_that_does_not_exist(tmp_path, db_path, run_gf, load_text):
    load_text("a = 1")
    (tmp_path / "o.js").write_text("a = 2\n")
    result = run_gf("load", "--db", db_path, "--parent", 9, tmp_path / "o.js")
    assert result.exit_code == 2
    assert result.stderr == f"error: group 9 does not exist in {db_path}; groups there: 1\n"


def test_override_that_breaks_an_inherited_constraint_points_at_the_value(tmp_path, db_path, run_gf, load_text):
    load_text("fast = 12.3\nslow = 7.2\nslow < fast\n")
    path = tmp_path / "o.js"
    path.write_text("# lower the fast threshold\nfast = 1\n")
    result = run_gf("load", "--db", db_path, "--parent", 1, path)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{path}:2: constraint slow < fast does not hold: slow = 7.2, fast = 1")
    assert count_rows(db_path, "groups") == 1


BAD_FILES = [
    ("a = 1\nb = {oops\n", 2, "invalid JSON value"),
    ("a__b =< 3\n", 1, "invalid JSON value '< 3': Expecting value (column 1); a constraint is written `a__b < 3` or "
                        "`a__b <= 3`"),
    ("flag_bool = True  # on\n", 1, "invalid JSON value 'True  # on': Expecting value (column 1); JSON writes it true"),
    ("flag_bool = True\n", 1, "invalid JSON value 'True': Expecting value (column 1); JSON writes it true"),
    ("mode = fast\n", 1, "invalid JSON value 'fast': Expecting value (column 1); mode takes a number"),
    ("mode = on-demand\n", 1, "invalid JSON value 'on-demand': Expecting value (column 1); mode takes a number"),
    ("m_choice = fast\n", 1, "; a choice is a list of quoted options, as in [\"fast\", \"other\"]"),
    ("m_choice = [fast, slow]\n", 1, "; strings in a list are quoted, as in [\"fast\", \"slow\"]"),
    ("on_bool = yes\n", 1, "invalid JSON value 'yes': Expecting value (column 1); a bool is true or false"),
    ("x = <= 3\n", 1, "invalid JSON value '<= 3': Expecting value (column 1); a constraint is written `x <= 3`"),
    ("x = NaN\n", 1, "x: value does not fit type float: expected a finite number"),
    ("a = \n", 1, "missing value after `=`"),
    ("a = 1 2\n", 1, "unexpected text after the value"),
    ("n_int = 5.5\n", 1, "n_int: value does not fit type int: expected a whole number, got 5.5"),
    ("flag_bool = 2\n", 1, "flag_bool: value does not fit type bool"),
    ("pick_choice = []\n", 1, "pick_choice: value does not fit type choice: expected a non-empty list"),
    ("pick_choice = \"a\"\n", 1, "expected a non-empty list of options, got the string 'a'"),
    ("r_real_0 = 1.5\n", 1, "expected a number in [0, 1], got 1.5"),
    ("r_real_1 = 0.5\n", 1, "expected a number in [1, 2], got 0.5"),
    ("x = \"12\"\n", 1, "x: value does not fit type float: expected a number, got the string '12'"),
    ("x = true\n", 1, "expected a number, got a boolean"),
    ("x = null\n", 1, "expected a number, got null"),
    ("x = NaN\n", 1, "expected a finite number"),
    ("fast = 1\n\nfast < slwo\n", 3, "constraint fast < slwo names unknown parameter slwo"),
    ("fast = 1\nslow = 2\nslow < fast\n", 3, "constraint slow < fast does not hold: slow = 2.0, fast = 1.0"),
    ("n_int = 1\nn_int > 3\n", 2, "constraint n_int > 3 does not hold: n_int = 1"),
    ("c_choice = [1]\nc_choice < 3\n", 2, "needs numbers, but c_choice is a choice"),
    ("a = 1\n1 < 2\n", 2, "relates two numbers"),
    ("a = 1\na < a\n", 2, "relates a parameter to itself"),
    ("a = 1\na < 1e999\n", 2, "constraint number 1e999 is out of range; use a finite number"),
    ("x = nan\n", 1, "; only finite numbers are values"),
    ("a = 1\na < x____y\n", 2, "'x____y' has an empty part between __ separators"),
    ("a = 1\nb = 2\na == b\n", 3, "(== and != are not supported)"),
    ("just some words\n", 1, "expected `name = <JSON value>` or a constraint"),
    ("foo-bar = 1\n", 1, "'foo-bar' is not a parameter name"),
    ("a____b = 1\n", 1, "has an empty part between __ separators"),
    ("a = 1\na__b = 2\n", 2, "a__b puts a group under a, which is already a value"),
    ("a__b = 2\na = 1\n", 2, "a__b puts a group under a, which is already a value"),
]


@pytest.mark.parametrize("text, line, message", BAD_FILES, ids=[case[2][:40] for case in BAD_FILES])
def test_bad_files_give_a_located_error_and_write_nothing(tmp_path, db_path, run_gf, load_text, text, line, message):
    load_text("existing = 1\n")
    before = open(db_path, "rb").read()
    path = tmp_path / "bad.js"
    path.write_text(text)
    result = run_gf("load", "--db", db_path, path)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"{path}:{line}: ")
    assert message in result.stderr
    assert result.stderr.count("\n") == 1, "one line, no traceback"
    assert count_rows(db_path, "groups") == 1
    assert open(db_path, "rb").read() == before


def test_bad_file_among_good_ones_writes_nothing(tmp_path, db_path, run_gf):
    (tmp_path / "good.js").write_text("a = 1\n")
    (tmp_path / "bad.js").write_text("b_int = x\n")
    result = run_gf("load", "--db", db_path, tmp_path / "good.js", tmp_path / "bad.js")
    assert result.exit_code == 2 and result.stderr.startswith(f"{tmp_path / 'bad.js'}:1: invalid JSON")
    assert not os.path.exists(db_path)  # a failed load never creates the database


def test_unreadable_and_empty_and_non_utf8_files(tmp_path, db_path, run_gf):
    missing = tmp_path / "missing.js"
    result = run_gf("load", "--db", db_path, missing)
    assert result.exit_code == 2
    assert result.stderr == f"{missing}: cannot read file: No such file or directory\n"

    empty = tmp_path / "empty.js"
    empty.write_text("# nothing here\n\n")
    result = run_gf("load", "--db", db_path, empty)
    assert result.exit_code == 2 and "no parameters found" in result.stderr

    latin = tmp_path / "latin.js"
    latin.write_bytes(b"a = 1\nb = \"caf\xe9\"\n")
    result = run_gf("load", "--db", db_path, latin)
    assert result.exit_code == 2 and result.stderr.startswith(f"{latin}:2: not valid UTF-8")


def test_utf8_bom_and_crlf_are_accepted(tmp_path, db_path, run_gf):
    path = tmp_path / "windows.js"
    path.write_bytes("\ufeffa = 1\r\nb_int = 2\r\n".encode("utf-8"))
    assert run_gf("load", "--db", db_path, path).exit_code == 0
    assert stored(db_path, 1)[0] == {"a": (1.0, "float"), "b_int": (2, "int")}
    mac = tmp_path / "mac.js"  # lone CRs end the lines (it was "unexpected text after the value: 'b = 2'")
    mac.write_bytes(b"a = 3\rb_int = 4\r")
    assert run_gf("load", "--db", db_path, mac).exit_code == 0
    assert stored(db_path, 2)[0] == {"a": (3.0, "float"), "b_int": (4, "int")}


def test_export_round_trips_params_and_constraints(tmp_path, db_path, run_gf, load_text):
    load_text(SEED_FILE + "seconds_15__stop_threshold__slow < seconds_15__stop_threshold__fast\n"
              "0 < overall__decay_rate_int\n")
    exported = run_gf("export", "--db", db_path, 1)
    assert exported.exit_code == 0
    assert "seconds_15__stop_threshold__slow < seconds_15__stop_threshold__fast" in exported.stdout
    assert "overall__decay_rate_int > 0" in exported.stdout
    again = load_text(exported.stdout)
    assert stored(db_path, again) == stored(db_path, 1)


def test_load_library_call_is_one_transaction(db_path, tmp_path):
    (tmp_path / "p.js").write_text("a = 1\nb = 2\na < b\n")
    conn = store.connect(db_path)
    group_id, parsed = loader.load(conn, [tmp_path / "p.js"], plugins.get_types(), db_path=db_path)
    assert group_id == 1 and list(parsed.params) == ["a", "b"]
    assert not conn.in_transaction
