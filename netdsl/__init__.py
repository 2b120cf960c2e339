"""netdsl: declarative TensorRT networks.

Kept light on purpose: importing netdsl loads no TensorRT, torch or numpy, so that `netdsl --help` and
`netdsl validate` start fast. The API lives in submodules (`netdsl.spec`, `netdsl.summary`, …).
"""

__version__ = "0.1.0"
