"""netdsl: declarative TensorRT networks.

Kept light on purpose: importing netdsl loads no TensorRT, torch or numpy, so that `netdsl --help` and
`netdsl validate` start fast. The API lives in submodules (`netdsl.spec`, `netdsl.summary`, …).
"""

from ._version import __version__


def from_torch(module, example_inputs, **options):
    """A PyTorch module as a spec and its weights (see :mod:`netdsl.torch_import`); torch is imported
    only when this is called."""
    from .torch_import import from_torch as run

    return run(module, example_inputs, **options)
