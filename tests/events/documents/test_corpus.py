"""Real Cyclid job documents (tests/corpus/, sources in tests/corpus/SOURCES.md) lint as
Cyclid would have taken them: no error in any document Cyclid accepted."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobstream.events.documents.validation import format_problems, load_document
from jobstream.events.errors import DocumentError

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
DOCUMENTS = sorted(p for p in CORPUS.iterdir() if p.suffix in (".json", ".yaml", ".yml"))

# Cyclid refused these too: a raw control character (a tab) inside a JSON string, line 14.
INVALID_JSON = {"Cyclid__Cyclid__.cyclid__e7b8254.json", "Cyclid__Cyclid__.cyclid__57f791d.json"}


def test_the_corpus_is_complete_and_documented() -> None:
    sources = (CORPUS / "SOURCES.md").read_text()
    assert len(DOCUMENTS) == 61
    assert all(f"`{p.name}`" in sources for p in DOCUMENTS)
    assert {p.name for p in DOCUMENTS} >= INVALID_JSON


def _accepted() -> list[object]:
    return [pytest.param(p, id=p.name) for p in DOCUMENTS if p.name not in INVALID_JSON]


@pytest.mark.parametrize("path", _accepted())
def test_a_document_cyclid_accepted_lints_without_error(path: Path) -> None:
    try:
        validated = load_document(path.read_bytes(), path.name)
    except DocumentError as rejected:
        pytest.fail("\n".join(format_problems(path.name, rejected.problems)))
    assert all(p.severity == "warning" for p in validated.warnings)


@pytest.mark.parametrize("name", sorted(INVALID_JSON))
def test_invalid_json_is_refused_in_one_line_naming_file_and_line(name: str) -> None:
    with pytest.raises(DocumentError) as caught:
        load_document((CORPUS / name).read_bytes(), name)
    (line,) = format_problems(name, caught.value.problems)
    assert line == (f"{name}:14: error: invalid JSON: Invalid control character at column 15")
