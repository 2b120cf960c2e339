"""A matrix whose output is Triton model repositories (`output: {path: models, format: triton}`): one
repository per target, each engine a model whose config.pbtxt Triton's own ModelConfig parses (tritonclient's
model_config_pb2), with the plan and manifest of the engine the matrix built. A second run of the same matrix
(every engine from the cache, the same plans) adds no version; a changed weight file adds version 2 of its
model only."""

import json

import pytest

from netdsl.cli import main

from .helpers import RTX, lenet_copy, write_matrix

model_config_pb2 = pytest.importorskip("tritonclient.grpc.model_config_pb2")
from google.protobuf import text_format  # noqa: E402  (tritonclient[grpc] brings protobuf)

pytestmark = pytest.mark.slow  # 2 TensorRT builds, then 1


def build(matrix, cache, capsys):
    code = main(["matrix", "build", str(matrix), "--cache", str(cache), "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


def test_matrix_into_triton_repositories(tmp_path, capsys):
    lenet = lenet_copy(tmp_path / "models")
    matrix = write_matrix(tmp_path / "fleet.yaml", [{"spec": str(lenet)}], [RTX], ["float32", "float16"],
                          ["1,4,8"], output={"path": "repo", "format": "triton"})
    cache = tmp_path / "cache"
    code, report = build(matrix, cache, capsys)
    assert code == 0 and report["built"] == 2
    repo = tmp_path / "repo" / "rtx"
    names = sorted(p.name for p in repo.iterdir())
    assert names == ["lenet_float16_b1-4-8", "lenet_float32_b1-4-8"], names
    for name in names:
        config = text_format.Parse((repo / name / "config.pbtxt").read_text(), model_config_pb2.ModelConfig())
        manifest = json.loads((repo / name / "1" / "model.plan.json").read_text())
        plan = (repo / name / "1" / "model.plan").read_bytes()
        assert config.name == name and config.platform == "tensorrt_plan"
        assert config.max_batch_size == 8  # the profile's largest batch: Triton batches requests itself
        assert [i.name for i in config.input] == [i["name"] for i in manifest["inputs"]]
        assert manifest["plan"]["bytes"] == len(plan) and manifest["matrix"]["entry"] == f"rtx/lenet/{name[6:]}"
        assert manifest["precision"] == name.split("_")[1]

    code, again = build(matrix, cache, capsys)
    assert code == 0 and (again["built"], again["cached"]) == (0, 2)
    assert sorted(p.name for p in (repo / names[0]).iterdir()) == ["1", "config.pbtxt"]  # no version 2

    weights = lenet.parent.parent / "weights" / "lenet.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    code, changed = build(matrix, cache, capsys)
    assert code == 0 and changed["built"] == 2
    for name in names:
        assert sorted(p.name for p in (repo / name).iterdir()) == ["1", "2", "config.pbtxt"]
        assert (repo / name / "2" / "model.plan").read_bytes() != (repo / name / "1" / "model.plan").read_bytes()
