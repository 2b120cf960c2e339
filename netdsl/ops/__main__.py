"""`python -m netdsl.ops`: regenerate netdsl/ops/_kinds.py, the index of which module defines each kind."""

from pathlib import Path

from . import index_source

path = Path(__file__).with_name("_kinds.py")
path.write_text(index_source())
print(f"wrote {path}")
