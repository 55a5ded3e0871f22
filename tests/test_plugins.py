"""The plugin manager: built-ins, entry-point plugins, broken plugins, the type hook."""

import json
import subprocess
import sys
import textwrap

import pytest

import gf
from gf import GeneticFuckery, ParamType, PluginError, hookimpl, plugins, store

PERCENT_PLUGIN = '''
from gf import ParamType, hookimpl


class PercentType(ParamType):
    """_pct: 0..100 in the file, read as a fraction."""

    name = "percent"
    suffix = "_pct"

    def validate(self, value):
        if not isinstance(value, (int, float)) or not 0 <= value <= 100:
            raise ValueError("expected a percentage between 0 and 100")
        return value

    def extract(self, value):
        return value / 100


@hookimpl
def gf_register_types(register):
    register(PercentType())
'''


def install_fake_plugin(site, monkeypatch, name, module_source, version="0.2"):
    """Put a module and a dist-info with a `gf` entry point on sys.path, as pip would."""
    module = f"gf_plugin_{name}"
    (site / f"{module}.py").write_text(module_source)
    info = site / f"gf_plugin_{name}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: gf-plugin-{name}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[gf]\n{name} = {module}\n")
    monkeypatch.syspath_prepend(str(site))


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A folder on sys.path for fake installed plugins; GF_LOAD_PLUGINS names only the fakes,
    so plugins really installed in this environment stay out of the way."""
    path = tmp_path / "site"
    path.mkdir()
    monkeypatch.setenv("GF_LOAD_PLUGINS", "pct,broken")
    yield path
    for module in [m for m in sys.modules if m.startswith("gf_plugin_")]:
        del sys.modules[module]


def test_hook_gf_register_types():
    types = plugins.get_types()
    assert {t.name: t.suffix for t in types} == {
        "float": "", "int": "_int", "bool": "_bool", "choice": "_choice", "real_0": "_real_0", "real_1": "_real_1",
    }
    assert types.for_param("a__b_real_0").name == "real_0"
    assert types.for_param("anything").name == "float"


def test_plugins_list_all_shows_builtins_with_hooks(run_gf):
    result = run_gf("plugins", "list", "--all", "--json")
    assert json.loads(result.stdout) == [
        {"name": f"gf_plugins_builtin.{name}", "version": gf.__version__, "hooks": hooks}
        for name, hooks in [
            ("breeders", ["gf_register_breeders"]),
            ("constraints", ["gf_fix_child"]),
            ("distributed", ["gf_register_launchers"]),
            ("evolution", ["gf_register_breeders"]),
            ("launchers", ["gf_register_launchers"]),
            ("metrics", ["gf_register_metrics"]),
            ("mutators", ["gf_mutate"]),
            ("types", ["gf_register_types"]),
        ]
    ]
    assert json.loads(run_gf("plugins", "list", "--json").stdout) == []


def test_entry_point_plugin_adds_a_type(site, monkeypatch, run_gf, tmp_path, db_path):
    install_fake_plugin(site, monkeypatch, "pct", PERCENT_PLUGIN)
    listed = json.loads(run_gf("plugins", "list", "--json").stdout)
    assert listed == [{"name": "pct", "version": "0.2", "hooks": ["gf_register_types"]}]
    text = run_gf("plugins", "list").stdout
    assert text.splitlines()[1].split() == ["pct", "0.2", "gf_register_types"]

    (tmp_path / "p.js").write_text("risk__share_pct = 25\n")
    assert run_gf("load", "--db", db_path, tmp_path / "p.js").exit_code == 0
    assert GeneticFuckery(dbfile=db_path, pid=1).risk.share_pct == 0.25
    (tmp_path / "bad.js").write_text("risk__share_pct = 250\n")
    result = run_gf("load", "--db", db_path, tmp_path / "bad.js")
    assert result.exit_code == 2
    assert result.stderr == f"{tmp_path / 'bad.js'}:1: risk__share_pct: value does not fit type percent: expected a percentage between 0 and 100\n"


@pytest.mark.parametrize("breeder", ["default", "ga"])
def test_a_numeric_plugin_type_with_no_mutator_of_its_own_is_bred_within_its_range(site, monkeypatch, tmp_path,
                                                                                 db_path, run_gf, breeder):
    """The README's percent type registers no gf_mutate: its values move like a float's (they stayed at the
    starting value for good), and a child outside 0..100 is refused by its validate, not stored."""
    install_fake_plugin(site, monkeypatch, "pct", PERCENT_PLUGIN)
    (tmp_path / "p.js").write_text("risk__share_pct = 95\nx = 1.0\n")
    assert run_gf("load", "--db", db_path, tmp_path / "p.js").exit_code == 0
    GeneticFuckery(dbfile=db_path).evolve(lambda params, dataset: {"t": {"v": -(params.risk.share_pct - 0.5) ** 2}},
                                          metric="v", generations=4, population=8, datasets=["d"], seed=3,
                                          breeder=breeder)
    values = [json.loads(v) for (v,) in store.connect(db_path).execute(
        "SELECT value FROM params WHERE name = 'share_pct'")]
    assert len(set(values)) > 10 and all(0 <= v <= 100 for v in values)
    assert min(values) < 85  # towards the best, 50 %


def test_constraints_on_a_plugin_type_compare_values_as_written_at_load_and_when_bred(site, monkeypatch, tmp_path,
                                                                                      db_path, run_gf):
    """The percent type reads 25 as 0.25; `share_pct <= 60` means 60 as written, at load and when bred (the
    loader compared the read 0.25 and breeding the written 25: a child could be moved 50x, or a bred group
    refused on reload)."""
    install_fake_plugin(site, monkeypatch, "pct", PERCENT_PLUGIN)
    monkeypatch.setenv("GF_LOAD_PLUGINS", "pct")
    (tmp_path / "bad.js").write_text("share_pct = 25\nshare_pct <= 0.5\n")
    result = run_gf("load", "--db", db_path, tmp_path / "bad.js")
    assert result.exit_code == 2
    assert result.stderr == f"{tmp_path / 'bad.js'}:2: constraint share_pct <= 0.5 does not hold: share_pct = 25\n"
    (tmp_path / "p.js").write_text("share_pct = 25\nshare_pct <= 60\n")
    assert run_gf("load", "--db", db_path, tmp_path / "p.js").exit_code == 0
    GeneticFuckery(dbfile=db_path).evolve(lambda params, dataset: {"t": {"v": params.share_pct}}, metric="v",
                                          generations=4, population=8, datasets=["d"], seed=3)
    values = [json.loads(v) for (v,) in store.connect(db_path).execute("SELECT value FROM params")]
    assert len(set(values)) > 10 and all(0 <= v <= 60 for v in values) and max(values) > 50  # pushed up to 60
    best = max(store.group_ids(store.connect(db_path)),
               key=lambda g: GeneticFuckery(dbfile=db_path, pid=g).share_pct)
    exported = run_gf("export", "--db", db_path, str(best)).stdout
    (tmp_path / "again.js").write_text(exported)
    assert run_gf("load", "--db", tmp_path / "other.db", tmp_path / "again.js").exit_code == 0


WHOLE_PLUGIN = '''
from gf import ParamType, hookimpl


class Lots(ParamType):
    """_lots: a whole number of lots, 0 to 9 (high is the value breeding stays below)."""

    name, suffix, low, high = "lots", "_lots", 0, 10

    def validate(self, value):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"expected a whole number, got {value!r}")
        return value


@hookimpl
def gf_register_types(register):
    register(Lots())
'''


SHARE_PLUGIN = '''
import operator

from gf import ParamType, hookimpl


class Share(ParamType):
    """_share: a fraction 0..1, no low/high declared (validate alone says what fits)."""

    name, suffix = "share", "_share"

    def validate(self, value):
        if not 0 <= value <= 1:
            raise ValueError("expected a share between 0 and 1")
        return float(value)


class Slot(ParamType):
    """_slot: a whole number 0..7 that validate checks with operator.index (a TypeError for a float)."""

    name, suffix = "slot", "_slot"

    def validate(self, value):
        if not 0 <= operator.index(value) < 8:
            raise ValueError("expected a slot 0..7")
        return value


@hookimpl
def gf_register_types(register):
    register(Share())
    register(Slot())
'''


@pytest.mark.parametrize("breeder", ["default", "ga"])
def test_plugin_types_bounded_by_validate_alone_breed_within_it(site, monkeypatch, tmp_path, db_path, run_gf,
                                                                breeder):
    """No low/high: a fraction stays a float (it jumped to whole 0 or 1), a slot stays whole (a float
    crashed breeding with the TypeError of its validate), and each stays where validate says."""
    install_fake_plugin(site, monkeypatch, "pct", SHARE_PLUGIN)
    (tmp_path / "p.js").write_text("a_share = 0.95\nb_slot = 3\nx = 1.0\n")
    assert run_gf("load", "--db", db_path, tmp_path / "p.js").exit_code == 0
    GeneticFuckery(dbfile=db_path).evolve(
        lambda params, dataset: {"t": {"v": -(params.a_share - 0.5) ** 2 - (params.b_slot - 6) ** 2 - params.x ** 2}},
        metric="v", generations=6, population=8, datasets=["d"], seed=2, breeder=breeder, progress=False)
    conn = store.connect(db_path)
    shares = [json.loads(v) for (v,) in conn.execute("SELECT value FROM params WHERE name = 'a_share'")]
    slots = [json.loads(v) for (v,) in conn.execute("SELECT value FROM params WHERE name = 'b_slot'")]
    assert all(type(v) is float and 0 <= v <= 1 for v in shares) and len(set(shares)) > 10
    assert sum(v in (0.0, 1.0) for v in shares) <= 1  # no whole jumps (a bound reached once, at most)
    assert all(type(v) is int and 0 <= v < 8 for v in slots) and len(set(slots)) >= 3


@pytest.mark.parametrize("breeder", ["default", "ga", "classic"])
def test_a_whole_number_plugin_type_is_bred_whole_and_below_its_high(site, monkeypatch, tmp_path, db_path,
                                                                     run_gf, breeder):
    install_fake_plugin(site, monkeypatch, "pct", WHOLE_PLUGIN)
    (tmp_path / "p.js").write_text("size_lots = 8\nx = 1.0\n")
    assert run_gf("load", "--db", db_path, tmp_path / "p.js").exit_code == 0
    GeneticFuckery(dbfile=db_path).evolve(lambda params, dataset: {"t": {"v": params.size_lots + params.x}},
                                          metric="v", generations=4, population=8, datasets=["d"], seed=5,
                                          breeder=breeder)
    values = [json.loads(v) for (v,) in store.connect(db_path).execute(
        "SELECT value FROM params WHERE name = 'size_lots'")]
    assert all(type(v) is int and 0 <= v <= 9 for v in values), values
    assert len(set(values)) >= 3 and 9 in values  # bred towards the best, 9, and never to high itself


def test_broken_plugin_is_reported_by_name_and_stops_loading(site, monkeypatch, run_gf, tmp_path, db_path):
    install_fake_plugin(site, monkeypatch, "broken", "import numpy_that_is_not_there\n")
    listed = json.loads(run_gf("plugins", "list", "--json").stdout)
    assert listed == [{"name": "broken", "version": "0.2",
                       "error": "ModuleNotFoundError: No module named 'numpy_that_is_not_there'"}]
    (tmp_path / "p.js").write_text("a = 1\n")
    result = run_gf("load", "--db", db_path, tmp_path / "p.js")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: plugin 'broken' failed to load (ModuleNotFoundError: No module named 'numpy_that_is_not_there'); "
        "fix or uninstall it, or leave it out with GF_LOAD_PLUGINS (see `gf plugins list`)\n"
    )
    monkeypatch.setenv("GF_LOAD_PLUGINS", "pct")
    plugins.reset()
    assert run_gf("load", "--db", db_path, tmp_path / "p.js").exit_code == 0


@pytest.mark.parametrize("source, error", [
    ("from gf import hookimpl\n\n@hookimpl\ndef gf_mutate(param_type, value, sigma, rng, extra):\n    return None\n",
     "PluginValidationError: Plugin 'broken' for hook 'gf_mutate' hookimpl definition: gf_mutate(param_type, value, "
     "sigma, rng, extra) Argument(s) {'extra'} are declared in the hookimpl but can not be found in the hookspec"),
    ("from gf import hookimpl\n\n@hookimpl\ndef gf_register_type(register):\n    pass\n",
     "PluginValidationError: unknown hook 'gf_register_type' in plugin"),
])
def test_a_plugin_whose_hook_pluggy_refuses_is_reported_like_a_failed_import(site, monkeypatch, run_gf, tmp_path,
                                                                          db_path, source, error):
    install_fake_plugin(site, monkeypatch, "broken", source)
    result = run_gf("plugins", "list", "--json")  # still lists, to diagnose it
    assert result.exit_code == 0, result.stderr
    [listed] = json.loads(result.stdout)
    assert listed["name"] == "broken" and listed["version"] == "0.2" and listed["error"].startswith(error)
    (tmp_path / "p.js").write_text("a = 1\n")
    result = run_gf("load", "--db", db_path, tmp_path / "p.js")
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"error: plugin 'broken' failed to load ({error}")
    monkeypatch.setenv("GF_LOAD_PLUGINS", "pct")
    plugins.reset()
    assert run_gf("load", "--db", db_path, tmp_path / "p.js").exit_code == 0


def test_a_builtin_launcher_is_found_without_loading_plugins(site, monkeypatch, run_gf, load_text, db_path):
    """gf run with one of gf's own launchers uses no other hook, so it neither loads nor needs the plugins."""
    found = {name: plugins.get_launcher(name) for name in ("local", "print", "inprocess", "dask")}
    assert plugins._manager is None
    registered = plugins.get_launchers()
    assert {name: type(launcher) for name, launcher in found.items()} == {
        name: type(launcher) for name, launcher in registered.items()}
    load_text("x = 1\n")
    plugins.reset()
    install_fake_plugin(site, monkeypatch, "broken", "import numpy_that_is_not_there\n")
    result = run_gf("run", "--db", db_path, f"{sys.executable} -c pass {{}}", "d", "--json")
    assert result.exit_code == 1 and "recorded no run" in result.stderr  # it ran
    result = run_gf("run", "--db", db_path, "true {}", "d", "--launcher", "elsewhere")
    assert result.exit_code == 1 and "plugin 'broken' failed to load" in result.stderr


def test_gf_load_plugins_restricts_by_entry_point_or_distribution_name(site, monkeypatch, run_gf):
    install_fake_plugin(site, monkeypatch, "pct", PERCENT_PLUGIN)
    for allowed, expected in [("", []), ("other", []), ("pct", ["pct"]), ("gf-plugin-pct, other", ["pct"])]:
        monkeypatch.setenv("GF_LOAD_PLUGINS", allowed)
        plugins.reset()
        assert [p["name"] for p in json.loads(run_gf("plugins", "list", "--json").stdout)] == expected


def test_gf_load_plugins_naming_no_installed_plugin_warns(site, monkeypatch, capfd):
    install_fake_plugin(site, monkeypatch, "pct", PERCENT_PLUGIN)
    monkeypatch.setenv("GF_LOAD_PLUGINS", "pcts")
    plugins.reset()
    plugins.get_plugin_manager()
    warning = capfd.readouterr().err
    assert warning.startswith("gf warning: GF_LOAD_PLUGINS names pcts, which no installed plugin is; installed: pct, ")
    monkeypatch.setenv("GF_LOAD_PLUGINS", "")  # empty: none, on purpose
    plugins.reset()
    plugins.get_plugin_manager()
    assert capfd.readouterr().err == ""
    monkeypatch.setenv("GF_LOAD_PLUGINS", "GF_Plugin_pct")  # the distribution's name as pip normalizes it
    plugins.reset()
    assert [p["name"] for p in plugins.describe_plugins()] == ["pct"] and capfd.readouterr().err == ""


def test_plugin_registering_a_taken_suffix_is_refused():
    class Clash:
        __name__ = "clash"

        @hookimpl
        def gf_register_types(self, register):
            class MyInt(ParamType):
                name, suffix = "myint", "_int"

            register(MyInt())

    plugins.register(Clash(), name="clash")
    with pytest.raises(PluginError, match="plugin 'clash' registers '_int' in gf_register_types, already registered"):
        plugins.get_types()


def test_plugin_raising_inside_a_hook_is_one_line(run_gf, tmp_path, db_path):
    class Raises:
        @hookimpl
        def gf_register_types(self, register):
            raise RuntimeError("kaboom")

    plugins.register(Raises(), name="raises")
    (tmp_path / "p.js").write_text("a = 1\n")
    result = run_gf("load", "--db", db_path, tmp_path / "p.js")
    assert result.exit_code == 1
    assert result.stderr == "error: plugin 'raises' failed inside gf_register_types: RuntimeError: kaboom\n"


def test_registering_a_non_type_is_refused():
    class Wrong:
        @hookimpl
        def gf_register_types(self, register):
            register("not a type")

    plugins.register(Wrong(), name="wrong")
    with pytest.raises(PluginError, match="expected a ParamType"):
        plugins.get_types()


def test_import_gf_loads_no_plugin_machinery():
    code = textwrap.dedent("""
        import sys, gf
        heavy = [m for m in ("pluggy", "sqlite_utils", "loguru", "click", "importlib.metadata",
                             "gf.plugins", "gf_plugins_builtin") if m in sys.modules]
        print(heavy)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_reading_and_reporting_loads_no_plugin_machinery(load_text, db_path):
    load_text("a__b_int = 3\n")
    code = textwrap.dedent(f"""
        import sys
        from gf import GeneticFuckery
        g = GeneticFuckery(dbfile={db_path!r}, pid=1)
        assert g.a.b_int == 3
        with g.report() as r:
            r["x"]["y"] = 1
        print([m for m in ("pluggy", "sqlite_utils", "loguru", "click", "gf.plugins") if m in sys.modules])
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_registration_mistakes_are_refused_not_skipped(site, monkeypatch, run_gf):
    """Each of these registered nothing, silently, and `share_up` loaded as a float."""
    class Returns:
        @hookimpl
        def gf_register_types(self, register):
            return [ParamType()]

    plugins.register(Returns(), name="returns")
    with pytest.raises(PluginError, match=r"plugin 'returns': gf_register_types returned \[<ParamType '' suffix=''>\], "
                                          r"which gf ignores; call register\(item\) for each item instead"):
        plugins.get_types()
    plugins.reset()

    class Upper:
        @hookimpl
        def gf_register_types(self, register):
            class Up(ParamType):
                name, suffix = "up", "_UP"

            register(Up())

    plugins.register(Upper(), name="upper")
    with pytest.raises(PluginError, match="registers type 'up' with suffix '_UP'; parameter names are lower-cased, "
                                          "so use '_up'"):
        plugins.get_types()
    plugins.reset()
    install_fake_plugin(site, monkeypatch, "pct", PERCENT_PLUGIN.replace("@hookimpl\n", ""))
    monkeypatch.setenv("GF_LOAD_PLUGINS", "pct")
    result = run_gf("plugins", "list", "--json")
    assert json.loads(result.stdout)[0]["error"] == ("PluginError: gf_register_types is not marked @gf.hookimpl, so "
                                                     "gf would never call it")

    class Unmarked:  # registered by hand, as a plugin's own tests do: refused as well
        def gf_register_types(self, register):
            register(ParamType())

    with pytest.raises(PluginError, match="gf_register_types is not marked @gf.hookimpl"):
        plugins.register(Unmarked(), name="unmarked")


def test_a_fixer_refuses_a_child_by_false_alone_and_is_named(load_text, db_path):
    from gf import Breeder, Child, engine, errors
    from gf.metrics import resolve

    load_text("x = 1\n")
    GeneticFuckery(dbfile=db_path, pid=1).record({"a": {"score": 1}}, dataset="d")

    class One(Breeder):
        name = "one"

        def breed(self, request):
            return [Child({"x": 2.0 + request.attempt}, [1])]

    answer = []

    class Fixer:
        @hookimpl
        def gf_fix_child(self, params):
            return answer[0]

    plugins.register(Fixer(), name="picky-fixer")
    breed = lambda: engine.breed_generation(store.connect(db_path), metric=resolve("score"), breeder=One(),
                                            datasets=["d"], top=1, population=1)
    answer.append(False)
    with pytest.raises(errors.InputError, match=r"the last: a fixer refused it \(fixers of plugins 'picky-fixer'\)"):
        breed()
    answer[0] = 0  # falsy, but no refusal: a fixer that returns a count, say
    assert len(breed()[0]) == 1


def test_hook_tracing_is_off_for_0_and_false(monkeypatch):
    for value, on in [("1", True), ("yes", True), ("0", False), ("false", False), ("", False), (" Off ", False)]:
        monkeypatch.setenv("GF_TRACE_HOOKS", value)
        assert plugins._tracing() is on, value


def test_hook_tracing_logs_hook_calls(monkeypatch, log_messages):
    monkeypatch.setenv("GF_TRACE_HOOKS", "1")
    plugins.reset()
    plugins.call_hook("gf_register_types", register=lambda t: None)
    assert "DEBUG: hook gf_register_types -> ['gf_plugins_builtin.types']" in "\n".join(log_messages)
    # and the hooks gf calls without pluggy's machinery: the registries, and mutators in a breed
    log_messages.clear()
    plugins.get_metrics()
    mutate = plugins.first_result("gf_mutate")
    mutate(param_type=plugins.get_types().for_param("x"), value=1.0, sigma=1.0, rate=0.0, rng=__import__("random"))
    logged = "\n".join(log_messages)
    for line in ("hook gf_register_metrics -> ['gf_plugins_builtin.metrics']",
                 "hook gf_register_types -> ['gf_plugins_builtin.types']",
                 "hook gf_mutate -> ['gf_plugins_builtin.mutators']"):
        assert f"DEBUG: {line}" in logged, line


def test_groups_holding_a_type_no_loaded_plugin_provides_are_not_bred_as_floats(site, monkeypatch, tmp_path,
                                                                                db_path, run_gf):
    """Without the plugin, `share_pct` would be typed by its suffix, a float: its children stored as floats
    (0.25 read where 25 % was meant). Breeding, gf load --parent and merge-performers refuse instead."""
    install_fake_plugin(site, monkeypatch, "pct", PERCENT_PLUGIN)
    monkeypatch.setenv("GF_LOAD_PLUGINS", "pct")
    (tmp_path / "p.js").write_text("a__share_pct = 25\na__x = 1.0\n")
    assert run_gf("load", "--db", db_path, tmp_path / "p.js").exit_code == 0
    GeneticFuckery(dbfile=db_path, pid=1).record({"a": {"v": 1.0}}, dataset="d")
    monkeypatch.setenv("GF_LOAD_PLUGINS", "")
    plugins.reset()
    message = ("error: group 1's param a__share_pct is of type 'percent', which no loaded plugin provides (gf would "
               "take it for a float); install the plugin that registers it, or allow it in GF_LOAD_PLUGINS (see "
               "`gf plugins list`)\n")
    result = run_gf("breed", "--db", db_path, "--metric", "v")
    assert (result.exit_code, result.stderr) == (1, message)
    (tmp_path / "q.js").write_text("a__x = 2.0\n")
    result = run_gf("load", "--db", db_path, "--parent", "1", tmp_path / "q.js")
    assert result.exit_code != 0 and result.stderr.endswith(message[len("error: "):])
    (tmp_path / "map.json").write_text('{"a": ["a__*"]}')
    result = run_gf("merge-performers", "--db", db_path, "--metric", "v", tmp_path / "map.json")
    assert (result.exit_code, result.stderr) == (1, message)
    assert store.group_ids(store.connect(db_path)) == [1]


def test_merge_performers_combines_a_plugin_type_by_a_value_a_group_had():
    from gf.merging import combine

    assert combine([34, 32, 30, 28], "even") == 30  # not 31, which an even type refuses
    assert combine([34, 32, 30, 28], "int") == 31 and combine([0.5, 0.25], "float") == 0.375


CARELESS_TYPES = '''
from gf import ParamType, hookimpl


class NoReturn(ParamType):
    name, suffix = "noreturn", "_nr"

    def validate(self, value):
        float(value)  # checks, and forgets to return it


class Positive(ParamType):
    name, suffix = "positive", "_pos"

    def validate(self, value):
        if value <= 0:  # a TypeError for a string
            raise ValueError("expected a positive number")
        return value

    def extract(self, value):
        return {value}  # a set: no JSON


@hookimpl
def gf_register_types(register):
    register(NoReturn())
    register(Positive())
'''


@pytest.mark.parametrize("line, message", [
    ("q_nr = 7", "error: type 'noreturn': validate(7) returned None; it must return the value (normalized) or raise "
                 "ValueError\n"),
    ('q_pos = "abc"', "{path}:1: q_pos: value does not fit type positive: '<=' not supported between instances of "
                      "'str' and 'int'\n"),
    ("q_pos = 3", "error: type 'positive': extract(3) returned set {{3}}, which JSON cannot store (Object of type set is "
                  "not JSON serializable); it must return JSON values\n"),
])
def test_a_type_that_breaks_its_contract_is_named_and_nothing_is_stored(site, monkeypatch, tmp_path, db_path, run_gf,
                                                                        line, message):
    install_fake_plugin(site, monkeypatch, "careless", CARELESS_TYPES)
    monkeypatch.setenv("GF_LOAD_PLUGINS", "careless")
    path = tmp_path / "p.js"
    path.write_text(line + "\n")
    result = run_gf("load", "--db", db_path, path)
    assert result.stderr == message.format(path=path) and result.exit_code != 0
    assert not store.group_ids(store.connect(db_path))


def test_a_type_whose_extract_normalizes_a_list_in_place_stores_what_it_returned():
    """``extract`` may change a list in place and return it: the program reads what it returned, not the
    value as it was before (the stored value's JSON is reused only for numbers, bools and strings)."""
    from gf import values
    from gf.breeding import param_rows

    class SortedList(ParamType):
        name, suffix, numeric = "sorted", "_sorted", False

        def extract(self, value):
            value.sort()
            return value

    class Types:
        def for_param(self, name):
            return SortedList()

    ((name, value, type_name, typed),) = param_rows({"p_sorted": [3, 1, 2]}, Types())
    assert (name, type_name) == ("p_sorted", "sorted")
    assert (value, typed) == (values.encode([3, 1, 2]), values.encode([1, 2, 3]))
