"""YAML read safely: the safe loader only, bounded while it is read, every failure named.

PyYAML's composer turns an alias into a second reference to the anchored node, so a few
hundred bytes can describe a tree of billions of nodes ("billion laughs") that blows up only
when something walks it (validation, JSON encoding, the runner). So the document is
bounded *while* it is composed: at most `MAX_NODES` nodes as written, `MAX_DEPTH` levels of
nesting and `MAX_ALIASES` aliases, each refused at the node that crosses the limit, before
the rest is read. Then the node graph is checked before anything is constructed: a bounded
expanded size, no recursive aliases, and only the tags the safe constructor knows (never
`!!python/...`). A value the safe constructor cannot build (`!!int abc`, a date like
`2001-13-45`, a number of 5,000 digits) is refused at its line too: every failure of this
module is a `YamlRejected`, never the constructor's own error.

Events come from libyaml's parser when PyYAML has it (a 1 MB document parses about 20 times
faster than in Python); the composer stays PyYAML's Python one, so that it can count.

The composed node tree is kept because its marks give the line of any path in the document.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

try:
    from yaml.cyaml import CParser
except ImportError:  # PyYAML built without libyaml
    CParser = None

__all__ = [
    "MAX_ALIASES",
    "MAX_DEPTH",
    "MAX_NODES",
    "YamlRejected",
    "compose",
    "construct",
    "line_of",
]

MAX_ALIASES = 100
# As written, and again with every alias expanded. A large real job document has a few
# thousand nodes; composing in Python costs about 20 µs a node, so this bounds what one
# request can cost (a 1 MB body of 480k nodes is refused after 0.5 s, not read for 30).
MAX_NODES = 20_000
# Collections inside collections. A job document needs about 6; JSON encoders stop at a few
# hundred (orjson at 255), and an event puts its own levels around the document.
MAX_DEPTH = 64
_TOO_DEEP = f"the document nests too deeply (more than {MAX_DEPTH} levels)"

_PYTHON_TAG = "tag:yaml.org,2002:python/"
_YAML_TAG = "tag:yaml.org,2002:"
# Keys the safe constructor handles while flattening a mapping (`<<` and `=`), not by tag.
_MAPPING_KEY_TAGS = frozenset({"tag:yaml.org,2002:merge", "tag:yaml.org,2002:value"})


class YamlRejected(ValueError):
    """YAML that is malformed or refused; `line` and `column` are 1-based when known."""

    def __init__(self, message: str, mark: yaml.Mark | None = None) -> None:
        self.message = message
        self.line = mark.line + 1 if mark is not None else None
        self.column = mark.column + 1 if mark is not None else None
        super().__init__(message)


class _PythonParser(Reader, Scanner, Parser):
    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)


_Parser: type = CParser if CParser is not None else _PythonParser


class _GuardedLoader(Composer, _Parser, SafeConstructor, Resolver):  # type: ignore[misc]
    def __init__(self, stream: str) -> None:
        _Parser.__init__(self, stream)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self.aliases = 0
        self.nodes = 0
        self.depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        # Counted as the events arrive, so a bomb or a huge document stops where it crosses
        # the limit instead of being read whole first.
        mark = self.peek_event().start_mark
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise YamlRejected(
                    f"more than {MAX_ALIASES} aliases: refused as a possible alias bomb", mark
                )
        else:
            self.nodes += 1
            if self.nodes > MAX_NODES:
                raise YamlRejected(
                    f"the document has more than {MAX_NODES} values, lists and mappings", mark
                )
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise YamlRejected(_TOO_DEEP, mark)
        try:
            node = super().compose_node(parent, index)
        finally:
            self.depth -= 1
        if isinstance(node, yaml.ScalarNode) and node.style == "":
            node.style = None  # libyaml's plain style, as PyYAML's own parser gives it
        return node

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (YamlRejected, yaml.MarkedYAMLError):
            raise
        except Exception as exc:
            # The safe constructor's own failures (ValueError, KeyError, ...) on a value it
            # resolved or was told to build: named at the innermost node that failed.
            raise YamlRejected(_unbuildable(node, exc), node.start_mark) from None


def compose(text: str) -> yaml.Node | None:
    """The node tree of one YAML document (None if empty), checked as the module says."""
    try:
        # The reader checks every character as the loader is built: inside the try.
        loader = _GuardedLoader(text)
    except yaml.YAMLError as exc:
        raise YamlRejected(f"invalid YAML: {exc}") from None
    except UnicodeEncodeError as exc:
        # Only a str that no UTF-8 bytes decode to (a lone surrogate) gets here.
        raise YamlRejected(f"not text: {exc.reason} at character {exc.start + 1}") from None
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        raise YamlRejected(_describe(exc), exc.problem_mark or exc.context_mark) from None
    except yaml.YAMLError as exc:
        raise YamlRejected(f"invalid YAML: {_one_line(exc)}") from None
    finally:
        loader.dispose()
    if root is not None:
        _check_graph(root)
    return root


def construct(node: yaml.Node | None) -> Any:
    """Python data (dicts, lists, scalars) of a node tree that `compose` returned."""
    if node is None:
        return None
    loader = _GuardedLoader("")
    try:
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        raise YamlRejected(_describe(exc), exc.problem_mark or exc.context_mark) from None
    finally:
        loader.dispose()


def line_of(root: yaml.Node | None, loc: Sequence[str | int]) -> int | None:
    """The 1-based line where `loc` starts: a mapping key's own line, else the item's.

    A path that leaves the document (a missing field) gives the line of its deepest
    existing parent, which is where the field should have been.
    """
    if root is None:
        return None
    node = root
    line = root.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            # PyYAML keeps every duplicate key and the last one wins when constructed.
            for key, value in reversed(node.value):
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    line = key.start_mark.line + 1
                    node = value
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if not 0 <= part < len(node.value):
                return line
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _check_graph(root: yaml.Node) -> None:
    # Size and height are memoized per node, so a shared (aliased) node is walked once; a
    # node met again is checked against the depth it is met at.
    sizes: dict[int, tuple[int, int]] = {}
    in_progress: set[int] = set()

    def expanded(node: yaml.Node, depth: int) -> tuple[int, int]:
        key = id(node)
        if key in in_progress:
            raise YamlRejected("an anchor is used inside itself (recursive alias)", node.start_mark)
        if key not in sizes:
            sizes[key] = walk(node, depth)
        size, height = sizes[key]
        if depth + height - 1 > MAX_DEPTH:
            raise YamlRejected(
                f"aliases would make the document nest too deeply (more than {MAX_DEPTH} levels)",
                node.start_mark,
            )
        return size, height

    def walk(node: yaml.Node, depth: int) -> tuple[int, int]:
        _check_tag(node)
        in_progress.add(id(node))
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        total, height = 1, 1
        for child in children:
            size, child_height = expanded(child, depth + 1)
            total += size
            height = max(height, child_height + 1)
            if total > MAX_NODES:
                raise YamlRejected(
                    f"aliases would expand the document past {MAX_NODES} nodes: "
                    "refused as a possible alias bomb",
                    child.start_mark,
                )
        in_progress.discard(id(node))
        return total, height

    expanded(root, 1)


def _check_tag(node: yaml.Node) -> None:
    if node.tag in _GuardedLoader.yaml_constructors or node.tag in _MAPPING_KEY_TAGS:
        return
    if node.tag.startswith(_PYTHON_TAG):
        short = "!!" + node.tag.removeprefix("tag:yaml.org,2002:")
        raise YamlRejected(
            f"the tag {short} is not allowed: job documents are read with a safe loader, "
            "which never builds Python objects",
            node.start_mark,
        )
    raise YamlRejected(f"unknown YAML tag {node.tag!r}", node.start_mark)


def _describe(exc: yaml.MarkedYAMLError) -> str:
    if "maximum nesting depth" in (exc.problem or ""):
        # libyaml's own bound (1,000 levels), met while it scans ahead of the composer.
        return _TOO_DEEP
    text = f"invalid YAML: {exc.problem or exc.context or 'syntax error'}"
    if exc.problem and exc.context:
        text += f" ({exc.context})"
    mark = exc.problem_mark or exc.context_mark
    if mark is not None:
        text += f" at column {mark.column + 1}"
    return text


def _one_line(exc: yaml.YAMLError) -> str:
    # A reader error's text spans lines ("... in <unicode string>, position 3").
    return " ".join(str(exc).split())


_KINDS = {"timestamp": "date", "int": "integer", "float": "number", "bool": "boolean"}


def _unbuildable(node: yaml.Node, exc: Exception) -> str:
    tag = node.tag.removeprefix(_YAML_TAG)
    shown = _KINDS.get(tag, f"!!{tag}" if tag != node.tag else repr(node.tag))
    if not isinstance(node, yaml.ScalarNode):
        return f"invalid YAML: this {shown} cannot be read ({type(exc).__name__})"
    value = node.value if len(node.value) <= 40 else node.value[:37] + "..."
    why = ""
    if tag == "int" and len(node.value) > 100:
        digits = sum(c.isdigit() for c in node.value)
        why = f" (it has {digits} digits)"
    elif tag == "timestamp" and isinstance(exc, ValueError):
        why = f" ({exc})"
    return f"invalid YAML: {value!r} is not a valid {shown}{why}; quote it to keep it as text"
