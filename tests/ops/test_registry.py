"""The registry of kinds: validating a spec imports only the op modules of the kinds it uses (start-up
stays fast however many kinds exist), through the generated index (tests/test_regenerate.py holds it current)."""

import subprocess
import sys
from pathlib import Path

from netdsl.ops import REGISTRY, kind_index

ROOT = Path(__file__).resolve().parents[2]


def test_validate_imports_only_the_kinds_it_uses():
    code = ("import sys; from netdsl.spec import check; c, d = check('specs/lenet.yaml'); assert c is not None; "
            "print(sorted(m.rsplit('.', 1)[1] for m in sys.modules if m.startswith('netdsl.ops.')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    loaded = set(eval(out))  # a printed list of module names
    uses = {"convolution", "pooling", "fully_connected", "activations", "softmax"}
    assert uses <= loaded
    kind_modules = set(kind_index().values())  # modules of other kinds must not be imported; helpers may
    assert not (loaded - uses) & kind_modules, loaded


def test_unknown_kind_loads_everything_and_stays_unknown():
    assert REGISTRY.get("no_such_kind") is None
    assert "no_such_kind" not in REGISTRY
    assert "relu" in REGISTRY and len(REGISTRY) > 40
