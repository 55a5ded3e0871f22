"""Meta-tests: every hook is documented, typed, and has a test named after it."""

import inspect
import re
from pathlib import Path

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
