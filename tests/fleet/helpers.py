"""Matrix files and model folders for the fleet tests."""

import shutil
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def lenet_copy(folder: Path) -> Path:
    """specs/lenet.yaml and its weights copied to ``folder`` (same relative layout); the spec's path."""
    (folder / "specs").mkdir(parents=True, exist_ok=True)
    (folder / "weights").mkdir(exist_ok=True)
    shutil.copy(ROOT / "specs" / "lenet.yaml", folder / "specs" / "lenet.yaml")
    shutil.copy(ROOT / "weights" / "lenet.safetensors", folder / "weights" / "lenet.safetensors")
    return folder / "specs" / "lenet.yaml"


def write_matrix(path: Path, models, targets, precisions=("float32",), batches=None, output="engines") -> Path:
    document = {"matrix": 1, "models": list(models), "precisions": list(precisions), "targets": list(targets),
                "output": output}
    if batches is not None:
        document["batches"] = list(batches)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


RTX = {"name": "rtx", "flavour": "tensorrt_rtx", "resource": "rtx", "num_gpus": 0}
