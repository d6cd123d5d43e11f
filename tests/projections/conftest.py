from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jobstream.projections.views import DuckDBViews

from .projections_support import Offsets


@pytest.fixture
def offsets() -> Offsets:
    return Offsets()


@pytest.fixture
def views(tmp_path: Path) -> Iterator[DuckDBViews]:
    v = DuckDBViews.open(tmp_path / "views.duckdb")
    yield v
    v.close()
