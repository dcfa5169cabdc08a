"""Safe YAML for policy files (catalogs, holiday tables) that refuses a key written twice.

Plain YAML keeps the last of two equal keys silently: a disease, a region's setting, a year or its
`holidays` given twice would enter only part of what the file says. Only the safe tags are read."""

from __future__ import annotations

from typing import Any

import yaml


class StrictLoader(yaml.SafeLoader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[object, object]:
        seen: set[object] = set()
        for key_node, _ in node.value:
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


def load_strict(text: str) -> Any:
    """The document in `text`; raises `yaml.YAMLError` for YAML that cannot be read or repeats a key."""
    return yaml.load(text, Loader=StrictLoader)
