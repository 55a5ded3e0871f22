"""Meta-tests: every hook is documented, typed, and has a test named after it."""

import inspect
import re
import os
from pathlib import Path

import pytest

from gf import hookspecs

HOOKS = [name for name, value in vars(hookspecs).items() if name.startswith("gf_") and callable(value)]


def test_every_hookspec_documents_every_argument_and_is_typed():
    assert len(HOOKS) >= 6
    for name in HOOKS:
        function = getattr(hookspecs, name)
        doc = inspect.getdoc(function)
        assert doc and len(doc.splitlines()[0]) > 10, name
        for argument in inspect.signature(function).parameters.values():
            assert f":param {argument.name}:" in doc, (name, argument.name)
            assert argument.annotation is not inspect.Parameter.empty, (name, argument.name)


def test_every_hookspec_has_a_test_named_after_it():
    tests = "".join(path.read_text() for path in Path(__file__).parent.glob("test_*.py"))
    for name in HOOKS:
        assert re.search(rf"def test_hook_{name}(_|\()", tests), f"no test_hook_{name}"


def test_every_hookspec_appears_in_the_plugin_authors_guide_with_its_signature():
    import inspect as _inspect

    guide = (Path(__file__).resolve().parent.parent / "docs" / "plugins.md").read_text()
    for name in HOOKS:
        arguments = ", ".join(_inspect.signature(getattr(hookspecs, name)).parameters)
        assert f"### `{name}({arguments})`" in guide, f"docs/plugins.md does not document {name}({arguments})"


def test_the_guides_examples_run_as_plugins(load_text, db_path):
    import random
    import re as _re
    import types

    from gf import plugins

    guide = (Path(__file__).resolve().parent.parent / "docs" / "plugins.md").read_text()
    blocks = [b for b in _re.findall(r"```python\n(.*?)```", guide, _re.S) if "@hookimpl" in b]
    assert len(blocks) == len(HOOKS)
    for index, block in enumerate(blocks):
        module = types.ModuleType(f"guide_example_{index}")
        exec(compile(block, f"docs/plugins.md example {index}", "exec"), module.__dict__)
        plugins.register(module, name=module.__name__)
    assert plugins.get_types().for_param("risk_pct").extract(25) == 0.25
    assert "best win" in plugins.get_metrics() and "jitter" in plugins.get_breeders()
    assert "serial" in plugins.get_launchers()
    params = {"portfolio__weights__a": 3.0, "portfolio__weights__b": 1.0}
    plugins.call_hook("gf_fix_child", params=params, constraints=[], types=plugins.get_types(), rng=random.Random(1))
    assert params == {"portfolio__weights__a": 0.75, "portfolio__weights__b": 0.25}
    moved = plugins.call_hook("gf_mutate", param_type=plugins.get_types().for_param("risk_pct"), value=50.0,
                              sigma=1.0, rate=0.0, rng=random.Random(1))
    assert moved != 50.0 and 0 <= moved < 100
    with pytest.raises(ValueError):  # True is an int to isinstance, not a percentage
        plugins.get_types().for_param("risk_pct").validate(True)
    from gf import GeneticFuckery, metrics, store

    for x in (1, 2, 3):
        load_text(f"x = {x}\n")
        GeneticFuckery(dbfile=db_path, pid=x).record({"a": {"win": x * 10}, "b": {"win": x}}, dataset="d")
    best_win = metrics.resolve("best win")  # held to the contract: best first as minimize says
    conn = store.connect(db_path)
    assert [(r.group, r.score) for r in best_win.rank(conn, dataset="d")] == [(3, 30), (2, 20), (1, 10)]
    assert [(r.group, r.score) for r in best_win.rank(conn, dataset="d", minimize=True, limit=2)] == [(1, 1), (2, 2)]


def test_the_guides_plugin_test_passes_with_the_plugin_installed(tmp_path):
    """docs/plugins.md's "Testing a plugin" example, run by pytest in a fresh process where the percent
    plugin is installed (an entry point in the gf group, as `pip install -e .` makes it)."""
    import re as _re
    import subprocess
    import sys

    guide = (Path(__file__).resolve().parent.parent / "docs" / "plugins.md").read_text()
    plugin = next(b for b in _re.findall(r"```python\n(.*?)```", guide, _re.S) if "gf_register_types" in b)
    test = next(b for b in _re.findall(r"```python\n(.*?)```", guide, _re.S) if "def test_" in b)
    site = tmp_path / "site"
    info = site / "gf_plugin_percent-0.1.dist-info"
    info.mkdir(parents=True)
    (site / "gf_plugin_percent.py").write_text(plugin)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: gf-plugin-percent\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[gf]\npercent = gf_plugin_percent\n")
    (tmp_path / "test_percent.py").write_text(test)
    env = {key: value for key, value in os.environ.items() if key != "GF_LOAD_PLUGINS"}
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")])
    ran = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_percent.py"],
                         cwd=tmp_path, env=env, capture_output=True, text=True)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "1 passed" in ran.stdout
