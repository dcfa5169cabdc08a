"""Safe YAML for policy files (catalogs, holiday tables) that refuses a key written twice.

Plain YAML keeps the last of two equal keys silently: a disease, a region's setting, a year or its
`holidays` given twice would enter only part of what the file says. Only the safe tags are read.

Whatever cannot be read is a `yaml.YAMLError` naming where, never another exception: a date that does not
exist (`2025-02-30`), a number too long to read, nesting deeper than Python's stack. Merge keys (`<<: *x`)
are read as YAML defines them (a key of the mapping itself wins over a merged one)."""

from __future__ import annotations

from typing import Any

import yaml

MERGE_TAG = "tag:yaml.org,2002:merge"


class StrictLoader(yaml.SafeLoader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[object, object]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            if key_node.tag == MERGE_TAG:  # SafeLoader's flattening reads it
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                repeated = key in seen
            except TypeError:  # an unhashable key: SafeLoader's own check names it
                break
            if repeated:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} written twice", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, OverflowError) as exc:  # a scalar that cannot be what its form says (a date)
            if isinstance(exc, yaml.YAMLError):
                raise
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {_short(node.value)!r}: {exc}" if isinstance(node, yaml.ScalarNode) else str(exc),
                node.start_mark) from None


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


def load_strict(text: str) -> Any:
    """The document in `text`; raises `yaml.YAMLError` for YAML that cannot be read or repeats a key."""
    try:
        return yaml.load(text, Loader=StrictLoader)
    except RecursionError:
        raise yaml.YAMLError("nested too deeply") from None
