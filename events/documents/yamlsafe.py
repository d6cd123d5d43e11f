"""YAML read safely: the safe loader only, and no alias bombs.

PyYAML's composer turns an alias into a second reference to the anchored node, so a few
hundred bytes can describe a tree of billions of nodes ("billion laughs") that blows up only
when something walks it (validation, JSON encoding, the runner). The node graph is checked
before anything is constructed: a bounded number of aliases, a bounded expanded size, no
recursive aliases, and only the tags the safe constructor knows (never `!!python/...`).

The composed node tree is kept because its marks give the line of any path in the document.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

__all__ = ["MAX_ALIASES", "MAX_NODES", "YamlRejected", "compose", "construct", "line_of"]

MAX_ALIASES = 100
# Counted with every alias expanded; a large real job document has a few thousand nodes.
MAX_NODES = 100_000

_PYTHON_TAG = "tag:yaml.org,2002:python/"
# Keys the safe constructor handles while flattening a mapping (`<<` and `=`), not by tag.
_MAPPING_KEY_TAGS = frozenset({"tag:yaml.org,2002:merge", "tag:yaml.org,2002:value"})


class YamlRejected(ValueError):
    """YAML that is malformed or refused; `line` and `column` are 1-based when known."""

    def __init__(self, message: str, mark: yaml.Mark | None = None) -> None:
        self.message = message
        self.line = mark.line + 1 if mark is not None else None
        self.column = mark.column + 1 if mark is not None else None
        super().__init__(message)


class _GuardedLoader(yaml.SafeLoader):
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.aliases = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        # Counting here stops a bomb while it is being read, before the graph check runs.
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise YamlRejected(
                    f"more than {MAX_ALIASES} aliases: refused as a possible alias bomb",
                    self.peek_event().start_mark,
                )
        return super().compose_node(parent, index)


def compose(text: str) -> yaml.Node | None:
    """The node tree of one YAML document (None if empty), checked as the module says."""
    try:
        # The reader checks every character as the loader is built: inside the try.
        loader = _GuardedLoader(text)
    except yaml.YAMLError as exc:
        raise YamlRejected(f"invalid YAML: {exc}") from None
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        raise YamlRejected(_describe(exc), exc.problem_mark or exc.context_mark) from None
    except yaml.YAMLError as exc:
        raise YamlRejected(f"invalid YAML: {exc}") from None
    except RecursionError:
        raise YamlRejected("the document nests too deeply") from None
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
    except RecursionError:
        raise YamlRejected("the document nests too deeply") from None
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
    sizes: dict[int, int] = {}
    in_progress: set[int] = set()

    def expanded_size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in in_progress:
            raise YamlRejected("an anchor is used inside itself (recursive alias)", node.start_mark)
        _check_tag(node)
        in_progress.add(key)
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        total = 1
        for child in children:
            total += expanded_size(child)
            if total > MAX_NODES:
                raise YamlRejected(
                    f"aliases would expand the document past {MAX_NODES} nodes: "
                    "refused as a possible alias bomb",
                    child.start_mark,
                )
        in_progress.discard(key)
        sizes[key] = total
        return total

    try:
        expanded_size(root)
    except RecursionError:
        raise YamlRejected("the document nests too deeply") from None


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
    text = f"invalid YAML: {exc.problem or exc.context or 'syntax error'}"
    if exc.problem and exc.context:
        text += f" ({exc.context})"
    mark = exc.problem_mark or exc.context_mark
    if mark is not None:
        text += f" at column {mark.column + 1}"
    return text
