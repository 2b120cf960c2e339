"""Every op module that defines kinds declares GROUP, its row in README's kind table (tools/regenerate.py)."""

import importlib

from netdsl.ops import kind_index


def test_every_kind_module_declares_a_group():
    modules = set(kind_index().values())
    missing = [m for m in sorted(modules) if not isinstance(getattr(importlib.import_module(f"netdsl.ops.{m}"),
                                                                    "GROUP", None), str)]
    assert not missing, f"these op modules declare no GROUP: {missing}"
    groups = {importlib.import_module(f"netdsl.ops.{m}").GROUP for m in modules}
    assert 5 <= len(groups) <= 15  # a front-door table: a few groups, not one row per module
