"""The worked plugin in docs/writing-plugins.md is real: its code is extracted and its tests run."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "writing-plugins.md"


@pytest.fixture
def huber_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    prior, plugin, tests = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    package = tmp_path / "deblur_huber"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "prior.py").write_text(prior)
    (package / "plugin.py").write_text(plugin)
    (tmp_path / "test_huber_doc.py").write_text(tests)
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    yield importlib.import_module("test_huber_doc")
    for name in [m for m in sys.modules if m.startswith(("deblur_huber", "test_huber_doc"))]:
        del sys.modules[name]


def test_documented_plugin_and_its_tests(huber_package) -> None:
    tests = [getattr(huber_package, n) for n in dir(huber_package) if n.startswith("test_")]
    assert len(tests) == 3
    for test in tests:
        test()
