"""transformers and sentence-transformers, the oracles of the Hugging Face zoo, imported offline.

torchvision 0.28.0 is installed only for its version metadata (ultralytics reads it); its compiled operators
cannot load beside the CPU torch 2.13.0 wheel, so `import torchvision` raises. transformers imports
torchvision whenever the package is present (for image processors netdsl's tests never use), which makes
every model class fail to import. `transformers_module` tells transformers torchvision is absent before the
first import of its models; nothing else in transformers changes.
"""

import importlib
import importlib.util
import os

import pytest


def _skip_if_missing(name: str) -> None:
    if importlib.util.find_spec(name) is None:
        pytest.skip(f"{name} is not installed (pip install --no-deps -r tests/requirements-nodeps.txt)",
                    allow_module_level=True)


def transformers_module(name: str = "transformers"):
    """The module ``name`` (``transformers``, ``transformers.models.gpt2``...), offline, with torchvision
    reported absent to transformers."""
    _skip_if_missing("transformers")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import transformers.utils as utils
    import transformers.utils.import_utils as import_utils

    def absent() -> bool:
        return False

    import_utils.is_torchvision_available = absent
    utils.is_torchvision_available = absent
    return importlib.import_module(name)


def sentence_transformers_module(name: str = "sentence_transformers"):
    """sentence-transformers' module ``name``, imported after `transformers_module` has prepared transformers."""
    _skip_if_missing("sentence_transformers")
    transformers_module()
    return importlib.import_module(name)
