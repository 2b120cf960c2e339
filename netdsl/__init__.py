"""netdsl: declarative TensorRT networks.

The public API (docs/python.md)::

    import netdsl
    net = netdsl.load("specs/lenet.yaml").bind()        # a checked spec with its weights
    net.reference({"data": x})                           # the numpy reference executor
    net.build("lenet.plan", precision="fp16")            # a TensorRT engine and its manifest

Kept light on purpose: importing netdsl loads no TensorRT, torch or numpy (the API's module is imported
on first use), so that `netdsl --help` and `netdsl validate` start fast.
"""

from ._version import __version__

__all__ = ["Engine", "NetdslError", "Network", "SpecError", "UsageError", "from_torch", "import_onnx", "load"]

_FROM = {"Engine": "api", "Network": "api", "from_torch": "api", "import_onnx": "api", "load": "api",
         "NetdslError": "diagnostics", "SpecError": "diagnostics", "UsageError": "diagnostics"}


def __getattr__(name: str):
    if name not in _FROM:
        raise AttributeError(f"module 'netdsl' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f"netdsl.{_FROM[name]}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
