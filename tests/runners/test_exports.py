import importlib.util
from pathlib import Path
from types import ModuleType

import runners.executor

PACKAGE_DIR = Path(runners.executor.__file__).parent


def load_package() -> ModuleType:
    # Loaded from its file: with tests/ on sys.path, a bare `import runners` under pytest
    # can find tests/runners as a namespace package instead of this one.
    spec = importlib.util.spec_from_file_location("runners_init", PACKAGE_DIR / "__init__.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_exported_members_exist_and_are_sorted() -> None:
    package = load_package()
    assert package.__all__ == sorted(package.__all__)
    for name in package.__all__:
        assert getattr(package, name) is not None


def test_runners_imports_nothing_from_the_layers_above() -> None:
    above = ("dispatcher", "projections", "callbacks", "jobstream")
    for path in PACKAGE_DIR.glob("*.py"):
        text = path.read_text()
        assert not any(f"from {p}" in text or f"import {p}" in text for p in above), path
