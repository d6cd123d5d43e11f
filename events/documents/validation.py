"""Bytes to a validated `JobDocument`: every rule of JOB-FORMAT.md, every problem at once.

`load_document` parses JSON or YAML (YAML safely, see `events.yamlsafe`) and gives each
problem the line it is on; `check_document` checks data that is already parsed (the HTTP
API, a document read from the log). Both check shape with the pydantic models of
`events.document`, then the rules that need the whole document (no handler loops, no
duplicate stages; a stage the document names but does not define is a warning, left to the
stored stages at submission), on the raw data so that a shape error elsewhere does not
hide them.
"""

from __future__ import annotations

import datetime
import json
import math
import re
from collections.abc import Callable, Iterable
from pathlib import PurePath
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from jobstream.events.documents import yamlsafe
from jobstream.events.documents.actions import action_names, step_model
from jobstream.events.documents.cyclidlint import cyclid_warnings
from jobstream.events.documents.expressions import modifier_warnings
from jobstream.events.documents.models import JobDocument, SequenceEntry, Source, Stage
from jobstream.events.documents.plan import MAX_STAGE_RUNS, SequencePlan
from jobstream.events.documents.rubytext import ruby_text
from jobstream.events.documents.secrets import SecretBox, bound_elsewhere
from jobstream.events.errors import DocumentError
from jobstream.events.models import DEFAULT_STAGE_VERSION, STAGE_VERSION

__all__ = [
    "MIN_SECRET_LENGTH",
    "Problem",
    "ValidatedDocument",
    "ValidatedStage",
    "check_document",
    "check_stage",
    "document_json_schema",
    "format_problems",
    "load_document",
    "load_stage",
]

# Shorter secrets are still masked, but masking e.g. "a" would star out every "a" in a log.
MIN_SECRET_LENGTH = 4

Severity = Literal["error", "warning"]
Loc = tuple[str | int, ...]
Locator = Callable[[Loc], int | None]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")
_YAML_STR = "tag:yaml.org,2002:str"
_YAML_NUMBERS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")


class Problem(BaseModel, frozen=True):
    """One thing wrong with a document, at `path` (`` for the whole document)."""

    path: str
    message: str
    severity: Severity
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.line}: " if self.line is not None else ""
        path = f"{self.path}: " if self.path else ""
        return f"{where}{self.severity}: {path}{self.message}"


class ValidatedDocument(BaseModel, frozen=True):
    document: JobDocument
    warnings: list[Problem]


def load_document(
    data: bytes | str,
    source: str = "<document>",
    *,
    format: Literal["json", "yaml"] | None = None,
) -> ValidatedDocument:
    """Parse and check a document; raise DocumentError listing every problem if any is an error.

    `format` None: from the extension of `source` (.json, .yml, .yaml), else JSON then YAML.
    """
    try:
        raw, locate = _parse(data, format or _format_of(source))
    except _Unparsable as exc:
        raise DocumentError([exc.problem], source) from None
    document, problems = _check(raw, locate, submitted=True)
    problems.sort(key=lambda p: (p.line is None, p.line or 0))
    if document is None:
        raise DocumentError(problems, source)
    return ValidatedDocument(document=document, warnings=problems)


def check_document(raw: Any) -> tuple[JobDocument | None, list[Problem]]:
    """Check parsed data; the document is None exactly when some problem is an error."""
    return _check(raw, lambda loc: None, submitted=False)


class ValidatedStage(BaseModel, frozen=True):
    stage: Stage
    """A stored stage's definition; its `version` is always set."""
    warnings: list[Problem]


def load_stage(
    data: bytes | str,
    source: str = "<stage>",
    *,
    format: Literal["json", "yaml"] | None = None,
) -> ValidatedStage:
    """Parse and check a stored stage (`name`, `version`, `steps`: a document's stage on
    its own); raise DocumentError listing every problem if any is an error.

    The steps get exactly a document stage's checks: the stage is checked as the one stage
    of a job, and only its own problems are kept. `version` defaults to 0.0.1 and must
    match Cyclid's pattern (`events.models.STAGE_VERSION`)."""
    try:
        raw, locate = _parse(data, format or _format_of(source))
    except _Unparsable as exc:
        raise DocumentError([exc.problem], source) from None
    stage, problems = check_stage(raw, locate)
    problems.sort(key=lambda p: (p.line is None, p.line or 0))
    if stage is None:
        raise DocumentError(problems, source)
    return ValidatedStage(stage=stage, warnings=problems)


def check_stage(raw: Any, locate: Locator = lambda loc: None) -> tuple[Stage | None, list[Problem]]:
    """`load_stage` for parsed data (the HTTP API's JSON body)."""
    if not isinstance(raw, dict):
        what = "empty" if raw is None else _kind(raw)
        return None, [_error("", f"a stage must be a mapping (a JSON object), not {what}")]
    name = raw.get("name")
    job = {
        "name": "stage",
        "stages": [raw],
        "sequence": [{"stage": name if isinstance(name, str) and name else "stage"}],
    }
    document, found = _check(
        job, lambda loc: locate(loc[2:]) if loc[:2] == _OWN else None, submitted=True
    )
    own = _path(_OWN)
    problems = [
        p.model_copy(update={"path": p.path.removeprefix(own).removeprefix(".")})
        for p in found
        if p.path.startswith(own)
    ]
    version = raw.get("version")
    version = DEFAULT_STAGE_VERSION if version is None else str(version)
    if not STAGE_VERSION.fullmatch(version):
        message = f"version {version!r} is not like 1.0.0 (Cyclid's stage versions)"
        problems.append(_error("version", message, locate(("version",))))
    if document is None or any(p.severity == "error" for p in problems):
        return None, problems
    return document.stages[0].model_copy(update={"version": version}), problems


_OWN: Loc = ("stages", 0)


def document_json_schema() -> dict[str, Any]:
    """JSON Schema of a job document, for editors (`jobstream schema`)."""
    schema = JobDocument.model_json_schema()
    schema.pop("title", None)
    # A step is whichever registered action it names (the models only know ActionStep).
    models = tuple(m for name in action_names() if (m := step_model(name)) is not None)
    union = Annotated[Union[models], Field(discriminator="action")]  # noqa: UP007
    steps = TypeAdapter(union).json_schema(ref_template="#/$defs/{model}")
    definitions = schema["$defs"]
    definitions.pop("ActionStep", None)
    definitions.update(steps.pop("$defs", {}))
    definitions["Stage"]["properties"]["steps"]["items"] = steps
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "jobstream job document",
        "description": (
            "A Cyclid-format CI job: stages of steps, run in the order of `sequence`. "
            "Unknown top-level keys are ignored with a warning."
        ),
        **schema,
    }


def format_problems(source: str, problems: list[Problem]) -> list[str]:
    """`FILE:LINE: severity: path: message` lines, as compilers print them."""
    lines = []
    for p in problems:
        where = f"{source}:{p.line}" if p.line is not None else source
        path = f"{p.path}: " if p.path else ""
        lines.append(f"{where}: {p.severity}: {path}{p.message}")
    return lines


# --- parsing ---------------------------------------------------------------------------


class _Unparsable(Exception):
    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__(str(problem))


def _format_of(source: str) -> Literal["json", "yaml"] | None:
    suffix = PurePath(source).suffix.lower()
    if suffix == ".json":
        return "json"
    if suffix in (".yml", ".yaml"):
        return "yaml"
    return None


def _parse(data: bytes | str, fmt: Literal["json", "yaml"] | None) -> tuple[Any, Locator]:
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _Unparsable(_error("", f"not UTF-8 text (byte {exc.start})")) from None
    text = data.removeprefix("\ufeff")
    if fmt == "json":
        return _parse_json(text)
    if fmt == "yaml":
        return _parse_yaml(text)
    try:
        return _parse_json(text)
    except _Unparsable as json_failure:
        try:
            return _parse_yaml(text)
        except _Unparsable:
            # Text that looks like JSON gets the JSON parser's (clearer) complaint.
            if text.lstrip().startswith(("{", "[")):
                raise json_failure from None
            raise


class _LongNumber(Exception):
    def __init__(self, digits: str) -> None:
        self.digits = digits


def _json_int(digits: str) -> int:
    try:
        return int(digits)
    except ValueError:
        # Python refuses to convert so long a number (sys.get_int_max_str_digits).
        raise _LongNumber(digits) from None


def _parse_json(text: str) -> tuple[Any, Locator]:
    try:
        raw = json.loads(text, parse_int=_json_int)
    except json.JSONDecodeError as exc:
        # json's messages may end in "at" ("Invalid control character at").
        message = f"invalid JSON: {exc.msg.removesuffix(' at')} at column {exc.colno}"
        raise _Unparsable(_error("", message, exc.lineno)) from None
    except _LongNumber as exc:
        line = text.count("\n", 0, max(text.find(exc.digits), 0)) + 1
        message = f"invalid JSON: a number of {len(exc.digits)} digits is too long to read"
        raise _Unparsable(_error("", message, line)) from None
    except RecursionError:
        raise _Unparsable(_error("", "the document nests too deeply")) from None
    return raw, _JsonLocator(text)


class _JsonLocator:
    """Lines for paths in JSON text, found by reading it as YAML (JSON nearly is)."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._root: yaml.Node | None = None
        self._composed = False

    def __call__(self, loc: Loc) -> int | None:
        if not self._composed:
            self._composed = True
            try:
                self._root = yamlsafe.compose(self._text)
            except yamlsafe.YamlRejected:
                self._root = None
        return yamlsafe.line_of(self._root, loc)


def _parse_yaml(text: str) -> tuple[Any, Locator]:
    try:
        root = yamlsafe.compose(text)
        _versions_as_written(root)
        raw = yamlsafe.construct(root)
    except yamlsafe.YamlRejected as exc:
        raise _Unparsable(_error("", exc.message, exc.line)) from None
    return raw, lambda loc: yamlsafe.line_of(root, loc)


def _versions_as_written(root: yaml.Node | None) -> None:
    # YAML reads `version: 1.10` as the float 1.1; keep the text the author wrote.
    def as_text(node: yaml.Node) -> None:
        if isinstance(node, yaml.ScalarNode) and node.style is None and node.tag in _YAML_NUMBERS:
            node.tag = _YAML_STR

    def versions_in(mapping: yaml.Node) -> None:
        if isinstance(mapping, yaml.MappingNode):
            for key, value in mapping.value:
                if isinstance(key, yaml.ScalarNode) and key.value == "version":
                    as_text(value)

    if not isinstance(root, yaml.MappingNode):
        return
    versions_in(root)
    for key, value in root.value:
        if key.value in ("stages", "sequence") and isinstance(value, yaml.SequenceNode):
            for item in value.value:
                versions_in(item)


# --- checking --------------------------------------------------------------------------


def _check(
    raw: Any, locate: Locator, *, submitted: bool
) -> tuple[JobDocument | None, list[Problem]]:
    # `submitted`: the document comes from a user, not from the log, so a value sealed at
    # submission can only have been copied from another job.
    if not isinstance(raw, dict):
        what = "empty" if raw is None else _kind(raw)
        message = f"a job document must be a mapping (a JSON object), not {what}"
        return None, [_error("", message, locate(()))]
    if too_big := _size_problem(raw):
        # Before anything else walks it, and without a line: finding one means reading
        # the whole text again.
        return None, [_error("", too_big)]
    findings: list[tuple[Loc, Severity, str]] = []
    document: JobDocument | None = None
    try:
        document = JobDocument.model_validate(raw)
    except ValidationError as exc:
        findings.extend((loc, "error", message) for loc, message in _shape_errors(raw, exc))
    shaped = {loc for loc, _, _ in findings}
    findings.extend(
        (loc, "error", message)
        for loc, message in _data_problems(raw)
        if not any(loc[: len(s)] == s for s in shaped)
    )
    findings.extend(_unknown_keys(raw))
    findings.extend(_secret_problems(raw, submitted))
    findings.extend((loc, "warning", message) for loc, message in modifier_warnings(raw))
    findings.extend(cyclid_warnings(raw))
    findings.extend((loc, "error", message) for loc, message in _flow_errors(raw))
    findings.extend((loc, "warning", message) for loc, message in _loops(raw))
    findings.extend(_stored_stage_warnings(raw))
    problems = [
        Problem(path=_path(loc), message=message, severity=severity, line=locate(loc))
        for loc, severity, message in findings
    ]
    if any(p.severity == "error" for p in problems):
        return None, problems
    return document, problems


# Past this many, a document of thousands of bad values gets one line for the rest.
MAX_DATA_PROBLEMS = 50


def _size_problem(raw: Any) -> str | None:
    """YAML is bounded as it is read (`yamlsafe`); JSON and parsed data only here."""
    count = 0
    todo: list[tuple[Any, int]] = [(raw, 1)]
    while todo:
        value, depth = todo.pop()
        count += 1
        if count > yamlsafe.MAX_NODES:
            return f"the document has more than {yamlsafe.MAX_NODES} values, lists and mappings"
        if isinstance(value, dict):
            items: Iterable[Any] = (v for pair in value.items() for v in pair)
        elif isinstance(value, list):
            items = value
        else:
            continue
        if depth >= yamlsafe.MAX_DEPTH:
            return f"the document nests too deeply (more than {yamlsafe.MAX_DEPTH} levels)"
        todo.extend((item, depth + 1) for item in items)
    return None


def _data_problems(raw: Any) -> Iterable[tuple[Loc, str]]:
    """Values the job's events cannot carry or no step can use, wherever they are.

    A document travels as JSON inside a JobSubmitted and is read back by every consumer,
    and its text ends up in shell text, paths and variables. So only JSON data is
    accepted (mappings with string keys, lists, text, finite numbers, booleans, null; not
    YAML's dates, sets, pairs or binary), and no text may hold a NUL or a lone surrogate
    (neither can be encoded or passed to a process). `_size_problem` bounded the walk."""
    found = 0
    todo: list[tuple[Loc, Any]] = [((), raw)]
    while todo:
        loc, value = todo.pop()
        problem: str | None = None
        children: list[tuple[Loc, Any]] = []
        if isinstance(value, str):
            problem = _text_problem(value)
        elif isinstance(value, bool) or value is None:
            pass
        elif isinstance(value, int):
            if not -(2**63) <= value < 2**63:
                problem = (
                    "is a number larger than a job event can carry (64 bits); "
                    "quote it to keep it as text"
                )
        elif isinstance(value, float):
            if not math.isfinite(value):
                problem = f"{ruby_text(value)} is not a number JSON can hold"
        elif isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    problem = f"keys must be strings, not {_kind(key)}"
                    break
                if why := _text_problem(key):
                    problem = f"the key {key!r}: {why}"
                    break
                children.append(((*loc, key), item))
        elif isinstance(value, list):
            children = [((*loc, i), item) for i, item in enumerate(value)]
        else:
            shown = _kind(_Hidden(value) if _is_secret(loc) else value)
            problem = f"{shown} cannot be held in a job event; {_data_hint(value)}"
        if problem is not None:
            found += 1
            if found > MAX_DATA_PROBLEMS:
                yield (), f"more values like these; the first {MAX_DATA_PROBLEMS} are shown"
                return
            yield loc, problem
            continue
        todo.extend(reversed(children))


def _text_problem(text: str) -> str | None:
    if "\0" in text:
        return "holds a NUL character (\\0), which no command, path or variable can hold"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"holds a lone surrogate (U+{ord(text[exc.start]):04X}), which is not text"
    return None


def _data_hint(value: Any) -> str:
    if isinstance(value, datetime.date):
        return "quote it to keep it as text"
    if isinstance(value, bytes):
        return "write the text itself, not !!binary"
    if isinstance(value, set | frozenset):
        return "write a list, not a !!set"
    if isinstance(value, tuple):
        return "write a mapping, not !!pairs or !!omap"
    return "write text, a number, a list or a mapping"


def _shape_errors(raw: dict[Any, Any], exc: ValidationError) -> Iterable[tuple[Loc, str]]:
    # A plain union (`script: str | list[str]`) fails once per member; those are merged
    # into one message at the field, naming what would have been accepted.
    unions: dict[Loc, list[str]] = {}
    for error in exc.errors():
        loc, member = _clean_loc(raw, error["loc"])
        if member is not None:
            members = unions.setdefault(loc, [])
            if member not in members:
                members.append(member)
            continue
        yield _describe(raw, loc, error)
    for loc, members in unions.items():
        accepted = " or ".join(_MEMBER_NAMES.get(m, m) for m in members)
        yield loc, f"must be {accepted}, not {_kind(_value_at(raw, loc))}"


_MEMBER_NAMES = {"str": "a string", "list[str]": "a list of strings"}


def _clean_loc(raw: Any, loc: tuple[int | str, ...]) -> tuple[Loc, str | None]:
    """The loc as a path in the document, without the union members pydantic puts in it."""
    out: list[str | int] = []
    value = raw
    for part in loc:
        if isinstance(part, str) and part != "[key]" and not isinstance(value, dict):
            return tuple(out), part
        out.append(part)
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
            value = value[part]
        else:
            value = None
    return tuple(out), None


def _describe(raw: Any, loc: Loc, error: Any) -> tuple[Loc, str]:
    kind = error["type"]
    given = error["input"]
    if _is_secret(loc):
        # Whatever a secret's value is, it is not repeated back (logs, API answers).
        given = _Hidden(given)
    if loc and loc[-1] == "[key]":
        return loc[:-1], f"keys must be strings, not {_kind(loc[-2])}"
    if kind == "missing":
        return loc, f"required field '{loc[-1]}' is missing"
    if kind == "union_tag_invalid":
        tag = error["ctx"]["tag"]
        known = ", ".join(action_names())
        return (*loc, "action"), f"unknown action '{tag}'; known actions: {known}"
    if kind == "union_tag_not_found":
        known = ", ".join(action_names())
        return (*loc, "action"), f"a step needs an action; known actions: {known}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return loc, f"must be a mapping, not {_kind(given)}"
    if kind == "list_type":
        return loc, f"must be a list, not {_kind(given)}"
    if kind == "string_type":
        subject = "a secret value must be" if loc[:1] == ("secrets",) else "must be"
        hint = "; quote it" if isinstance(error["input"], int | float) else ""
        return loc, f"{subject} a string, not {_kind(given)}{hint}"
    if kind in ("bool_type", "bool_parsing"):
        return loc, f"must be true or false, not {_kind(given)}"
    if kind in ("float_type", "float_parsing"):
        return loc, f"must be a number, not {_kind(given)}"
    if kind in ("too_short", "string_too_short"):
        return loc, "must not be empty"
    if kind == "literal_error":
        return loc, f"must be {error['ctx']['expected']}, not {given!r}"
    message: str = error["msg"]
    return loc, message[:1].lower() + message[1:]


def _model_at(raw: Any, loc: Loc) -> type[BaseModel] | None:
    match loc:
        case ():
            return JobDocument
        case ("stages", int()):
            return Stage
        case ("sequence", int()):
            return SequenceEntry
        case ("sources", int()):
            return Source
        case ("stages", int(), "steps", int()):
            step = _value_at(raw, loc)
            action = step.get("action") if isinstance(step, dict) else None
            return step_model(action) if isinstance(action, str) else None
    return None


def _unknown_keys(raw: dict[Any, Any]) -> Iterable[tuple[Loc, Severity, str]]:
    """Keys no model knows, at the top level and in stages, steps, sequence entries and
    sources: Cyclid ignored them, so a warning each (the model drops them)."""
    places: list[Loc] = [()]
    for field in ("stages", "sequence", "sources"):
        items = raw.get(field)
        for i, item in enumerate(items if isinstance(items, list) else []):
            places.append((field, i))
            steps = item.get("steps") if field == "stages" and isinstance(item, dict) else None
            if isinstance(steps, list):
                places.extend(("stages", i, "steps", j) for j in range(len(steps)))
    for loc in places:
        model = _model_at(raw, loc)
        value = _value_at(raw, loc)
        if model is None or not isinstance(value, dict):
            continue
        for key in value:
            if key not in model.model_fields:
                known = "" if loc == () else f" (known: {', '.join(sorted(model.model_fields))})"
                yield (*loc, str(key)), "warning", f"unknown key '{key}' is ignored{known}"


def _secret_problems(raw: dict[Any, Any], submitted: bool) -> Iterable[tuple[Loc, Severity, str]]:
    sources = raw.get("sources")
    for i, source in enumerate(sources if isinstance(sources, list) else []):
        token = source.get("token") if isinstance(source, dict) else None
        if submitted and isinstance(token, str) and (why := bound_elsewhere(token)):
            yield ("sources", i, "token"), "error", why
    secrets = raw.get("secrets")
    if not isinstance(secrets, dict):
        return
    for name, value in secrets.items():
        if submitted and isinstance(value, str) and (why := bound_elsewhere(value)):
            yield ("secrets", str(name)), "error", why
        elif (
            isinstance(value, str)
            and len(value) < MIN_SECRET_LENGTH
            and not SecretBox.is_encrypted(value)
        ):
            yield (
                ("secrets", str(name)),
                "warning",
                f"secret is shorter than {MIN_SECRET_LENGTH} characters: it will still be "
                "masked, and masking so short a value mangles the log",
            )


def _flow_errors(raw: dict[Any, Any]) -> Iterable[tuple[Loc, str]]:
    stages = raw.get("stages")
    defined: dict[str, int] = {}
    for i, stage in enumerate(stages if isinstance(stages, list) else []):
        name = stage.get("name") if isinstance(stage, dict) else None
        if not isinstance(name, str) or not name:
            continue
        if name in defined:
            yield (
                ("stages", i, "name"),
                f"stage '{name}' is already defined at stages[{defined[name]}]",
            )
        else:
            defined[name] = i

    entries = _sequence_entries(raw)
    for i, entry in enumerate(entries):
        for field in ("on_success", "on_failure"):
            # An empty `stage` is already a shape error; an empty handler name resolves nowhere.
            if entry.get(field) == "":
                yield ("sequence", i, field), "a handler must name a stage"


def _stored_stage_warnings(raw: dict[Any, Any]) -> Iterable[tuple[Loc, Severity, str]]:
    """A stage the job does not define must be a stored stage when the job is submitted
    (`events.documents.stages` resolves it then, and refuses the job if it cannot); as in
    Cyclid's linter, which cannot know what will be stored, that is a warning here."""
    stages = raw.get("stages")
    defined = [
        s["name"]
        for s in (stages if isinstance(stages, list) else [])
        if isinstance(s, dict) and isinstance(s.get("name"), str) and s["name"]
    ]
    sequence = raw.get("sequence")
    known = ", ".join(dict.fromkeys(defined)) if defined else "none"
    for i, entry in enumerate(sequence if isinstance(sequence, list) else []):
        for field in ("stage", "on_success", "on_failure"):
            name = entry.get(field) if isinstance(entry, dict) else None
            if isinstance(name, str) and name and name not in defined:
                yield (
                    ("sequence", i, field),
                    "warning",
                    f"stage '{name}' is not defined in this job: it must be a stored stage "
                    f"when the job is submitted (defined stages: {known})",
                )


def _sequence_entries(raw: dict[Any, Any]) -> list[dict[Any, Any]]:
    sequence = raw.get("sequence")
    if not isinstance(sequence, list):
        return []
    return [e if isinstance(e, dict) else {} for e in sequence]


def _loops(raw: dict[Any, Any]) -> Iterable[tuple[Loc, str]]:
    """Handler loops, in the flow graph of the sequence plan (`events.documents.plan`):
    nodes are its positions, edges what may run next. A stage listed twice is not a loop
    by itself, since a handler goes to its first position.

    A loop is a warning, not an error: Cyclid ran such documents (a listed `on_failure`
    stage guarded by `only_if` is a real idiom), and the runner bounds the stage runs.
    """
    plan = SequencePlan.from_raw(_sequence_entries(raw))
    names = plan.stages
    edges: list[list[int]] = [[] for _ in names]
    handlers: list[tuple[int, int, str]] = []  # (from, to, field): the only backward edges
    for i in range(plan.listed):
        for success, field in ((True, "on_success"), (False, "on_failure")):
            following = plan.next(i, success)
            if following is not None:
                edges[i].append(following)
                if plan.handler(i, success) is not None:
                    handlers.append((i, following, field))

    component = _components(edges)
    reported: set[int] = set()
    for source, target, field in handlers:
        # Fall-through edges only go forward, so every loop closes with a handler going back.
        if target > source or component[source] != component[target]:
            continue
        if component[source] in reported:
            continue
        reported.add(component[source])
        path = _path_within(edges, component, target, source)
        cycle = " → ".join(str(names[n]) for n in [*path, target])
        yield (
            ("sequence", source, field),
            f"handler loop: stage '{names[target]}' is reachable from itself ({cycle}); "
            f"the runner ends the job FAILED after {MAX_STAGE_RUNS} stage runs",
        )


def _components(edges: list[list[int]]) -> list[int]:
    """Strongly connected components (Kosaraju, without recursion): a label per node."""
    order: list[int] = []
    seen = [False] * len(edges)
    for start in range(len(edges)):
        if seen[start]:
            continue
        seen[start] = True
        stack = [(start, iter(edges[start]))]
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                order.append(node)
            elif not seen[child]:
                seen[child] = True
                stack.append((child, iter(edges[child])))
    reverse: list[list[int]] = [[] for _ in edges]
    for node, targets in enumerate(edges):
        for target in targets:
            reverse[target].append(node)
    label = [-1] * len(edges)
    for root in reversed(order):
        if label[root] != -1:
            continue
        label[root] = root
        todo = [root]
        while todo:
            node = todo.pop()
            for other in reverse[node]:
                if label[other] == -1:
                    label[other] = root
                    todo.append(other)
    return label


def _path_within(edges: list[list[int]], component: list[int], start: int, end: int) -> list[int]:
    """A shortest path from start to end through one component (both ends included)."""
    previous: dict[int, int] = {start: start}
    frontier = [start]
    while end not in previous:
        following = []
        for node in frontier:
            for child in edges[node]:
                if component[child] == component[start] and child not in previous:
                    previous[child] = node
                    following.append(child)
        frontier = following
    path = [end]
    while path[-1] != start:
        path.append(previous[path[-1]])
    return path[::-1]


# --- helpers ---------------------------------------------------------------------------


def _error(path: str, message: str, line: int | None = None) -> Problem:
    return Problem(path=path, message=message, severity="error", line=line)


def _path(loc: Loc) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _IDENTIFIER.match(part):
            text += f".{part}" if text else part
        else:
            text += f"[{json.dumps(part)}]"
    return text


def _value_at(raw: Any, loc: Loc) -> Any:
    value = raw
    for part in loc:
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
            value = value[part]
        else:
            return None
    return value


def _is_secret(loc: Loc) -> bool:
    return loc[:1] == ("secrets",) or (loc[:1] == ("sources",) and loc[2:3] == ("token",))


class _Hidden:
    """A value to describe by its kind only: `_kind` shows no part of it."""

    def __init__(self, value: Any) -> None:
        self.value = value


def _kind(value: Any) -> str:
    if isinstance(value, _Hidden):
        shown = _kind(value.value)
        return shown.split(" (", 1)[0] if not isinstance(value.value, dict | list) else shown
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int) and value.bit_length() > 64:
        return "a number too large to show"  # nor to print: Python limits the digits
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ({value!r})" if len(value) <= 40 else "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, datetime.datetime):
        return f"a time ({value.isoformat()})"
    if isinstance(value, datetime.date):
        return f"a date ({value.isoformat()})"
    if isinstance(value, bytes):
        return "binary data"
    if isinstance(value, set | frozenset):
        return "a set"
    if isinstance(value, tuple):
        return "a pair"
    return type(value).__name__
