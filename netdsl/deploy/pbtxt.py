"""Protocol-buffer text format, written from plain Python values (Triton's config.pbtxt): the few rules
the format has, without protobuf itself, which netdsl does not depend on. The tests parse every file
written with protobuf's own text_format against Triton's ModelConfig."""

from __future__ import annotations

import json


class Enum(str):
    """An enum value, written bare (``data_type: TYPE_FP32``)."""


def text(message: dict, indent: int = 0) -> str:
    """A message (field name -> value) as text format: scalars ``name: value``, messages ``name { ... }``,
    repeated scalars ``name: [a, b]``, repeated messages ``name [ {...}, {...} ]``."""
    pad = "  " * indent
    lines = []
    for name, value in message.items():
        if isinstance(value, dict):
            lines.append(f"{pad}{name} {{\n{text(value, indent + 1)}{pad}}}\n")
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            items = ",\n".join(f"{pad}  {{\n{text(item, indent + 2)}{pad}  }}" for item in value)
            lines.append(f"{pad}{name} [\n{items}\n{pad}]\n")
        elif isinstance(value, list):
            lines.append(f"{pad}{name}: [ {', '.join(scalar(v) for v in value)} ]\n")
        else:
            lines.append(f"{pad}{name}: {scalar(value)}\n")
    return "".join(lines)


def scalar(value) -> str:
    if isinstance(value, Enum):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    # JSON's escapes (\" \\ \n \uXXXX) are text format's too, except \u: keep non-ASCII as UTF-8
    return json.dumps(str(value), ensure_ascii=False)
