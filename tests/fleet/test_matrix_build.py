"""`netdsl matrix build` for real on TensorRT-RTX (CPU builds), on the local process pool: 2 specs x 2
precisions x 2 batch ranges build 8 engines, then 0; a changed weight file rebuilds only its model's 4;
`netdsl fmt` rebuilds nothing; corrupted entries are reported and rebuilt."""

import json

import pytest

from netdsl.cli import main

from .helpers import ROOT, RTX, lenet_copy, write_matrix

pytestmark = pytest.mark.slow  # 14 TensorRT builds, about a minute on 2 cores


def build(matrix, cache, capsys, *extra):
    code = main(["matrix", "build", str(matrix), "--cache", str(cache), "--format", "json", *extra])
    return code, json.loads(capsys.readouterr().out)


def statuses(report):
    return {entry["entry"]: entry["status"] for entry in report["entries"]}


def test_the_cache_through_a_matrix_lifetime(tmp_path, capsys):
    lenet = lenet_copy(tmp_path / "models")
    models = [{"spec": str(lenet)}, {"name": "mnv3", "spec": str(ROOT / "specs/zoo/mobilenet_v3_small.yaml"),
                                     "random_weights": 0}]
    matrix = write_matrix(tmp_path / "fleet.yaml", models, [RTX], ["float32", "float16"], ["1,1,4", "1,8,8"])
    cache = tmp_path / "cache"

    code, first = build(matrix, cache, capsys, "--local", "2")
    assert code == 0 and (first["built"], first["cached"], first["failed"]) == (8, 0, 0)
    out = tmp_path / "engines"
    index = json.loads((out / "matrix.json").read_text())
    assert len(index["engines"]) == 8
    for item in index["engines"]:
        manifest = json.loads((out / item["manifest"]).read_text())
        plan = (out / item["plan"]).read_bytes()
        assert manifest["plan"]["bytes"] == len(plan) and manifest["plan"]["path"] == (out / item["plan"]).name
        assert manifest["matrix"]["key"] == item["key"] and manifest["matrix"]["entry"] == item["entry"]
        assert manifest["tensorrt"]["flavour"] == "tensorrt_rtx"
        precision, batch = item["entry"].rsplit("/", 1)[1].split("_b")
        assert manifest["precision"] == precision
        assert [manifest["inputs"][0]["batch"][k] for k in ("min", "opt", "max")] == [int(b) for b in batch.split("-")]

    code, second = build(matrix, cache, capsys)
    assert code == 0 and (second["built"], second["cached"]) == (0, 8)
    assert json.loads((out / "matrix.json").read_text()) == index  # the same engines, copied from the cache

    assert main(["fmt", str(lenet)]) == 0
    lenet.write_text("# reformatted\n" + lenet.read_text().replace("{name: conv1, kind: convolution",
                                                                     "{kind: convolution, name: conv1"))
    code, formatted = build(matrix, cache, capsys)
    assert (formatted["built"], formatted["cached"]) == (0, 8)

    weights = lenet.parent.parent / "weights" / "lenet.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    code, retrained = build(matrix, cache, capsys)
    assert code == 0
    assert {name for name, status in statuses(retrained).items() if status == "built"} == {
        name for name in statuses(retrained) if "/lenet/" in name}
    assert retrained["cached"] == 4

    keys = {entry["entry"]: entry["key"] for entry in retrained["entries"]}
    truncated = cache / keys["rtx/mnv3/float32_b1-1-4"][:2] / keys["rtx/mnv3/float32_b1-1-4"] / "engine.plan"
    truncated.write_bytes(truncated.read_bytes()[:1000])
    altered = cache / keys["rtx/lenet/float16_b1-8-8"][:2] / keys["rtx/lenet/float16_b1-8-8"] / "engine.plan.json"
    record = json.loads(altered.read_text())
    record["plan"]["sha256"] = "0" * 64
    altered.write_text(json.dumps(record))
    assert main(["matrix", "plan", str(matrix), "--cache", str(cache)]) == 0
    planned = capsys.readouterr().out
    assert "corrupted rtx/mnv3/float32_b1-1-4" in planned and "the plan has 1,000 bytes" in planned
    assert "corrupted rtx/lenet/float16_b1-8-8" in planned and "6 cached" in planned
    code, repaired = build(matrix, cache, capsys)
    assert code == 0 and (repaired["built"], repaired["cached"]) == (2, 6)
    assert {e["entry"] for e in repaired["entries"] if "problem" in e} == {"rtx/mnv3/float32_b1-1-4",
                                                                           "rtx/lenet/float16_b1-8-8"}
    code, final = build(matrix, cache, capsys)
    assert (final["built"], final["cached"]) == (0, 8)


def test_a_failed_entry_keeps_the_others(tmp_path, capsys):
    """An entry TensorRT-RTX cannot build fails with its message; the others are built and written; exit 1."""
    lenet = lenet_copy(tmp_path / "models")
    matrix = write_matrix(tmp_path / "fleet.yaml", [{"spec": str(lenet)}],
                          [RTX, {**RTX, "name": "full", "flavour": "tensorrt", "tensorrt_version": "10.13.0"}],
                          ["float16"], ["1,1,4"])
    code = main(["matrix", "build", str(matrix), "--cache", str(tmp_path / "cache")])
    captured = capsys.readouterr()
    assert code == 1
    assert ("netdsl: error: full/lenet/float16_b1-1-4: target `full` builds with tensorrt 10.13.0, but this worker "
            "has tensorrt_rtx") in captured.err
    assert "1 built, 0 cached, 1 failed" in captured.out
    assert (tmp_path / "engines" / "rtx" / "lenet" / "float16_b1-1-4.plan").stat().st_size > 0
    assert not (tmp_path / "engines" / "full").exists()


def test_a_profile_for_named_dimensions(tmp_path, capsys):
    models = [{"name": "v8n", "spec": str(ROOT / "specs/zoo/yolov8.yaml"), "set": {"scale": "n"}, "random_weights": 0}]
    matrix = write_matrix(tmp_path / "fleet.yaml", models, [RTX], ["float16"])
    matrix.write_text(matrix.read_text() + "profiles:\n"
                      "  - {batch: '1:2:4', height: '320:320:640', width: '320:320:640'}\n")
    code, report = build(matrix, tmp_path / "cache", capsys)
    assert code == 0 and report["built"] == 1, report
    manifest = json.loads((tmp_path / "engines" / "rtx" / "v8n" /
                           "float16_batch1-2-4_height320-320-640_width320-320-640.plan.json").read_text())
    assert manifest["profiles"] == [{"batch": {"min": 1, "opt": 2, "max": 4},
                                     "height": {"min": 320, "opt": 320, "max": 640, "multiple_of": 32},
                                     "width": {"min": 320, "opt": 320, "max": 640, "multiple_of": 32}}]
    assert manifest["spec"]["params"]["scale"] == "n"


def test_one_engine_under_two_names_is_built_once(tmp_path, capsys):
    lenet = str(lenet_copy(tmp_path / "models"))
    models = [{"name": "digits", "spec": lenet}, {"name": "mnist", "spec": lenet}]
    matrix = write_matrix(tmp_path / "fleet.yaml", models, [RTX], ["float16"], ["1,1,4"])
    code, report = build(matrix, tmp_path / "cache", capsys)
    assert code == 0
    assert statuses(report) == {"rtx/digits/float16_b1-1-4": "built", "rtx/mnist/float16_b1-1-4": "cached"}
    plans = [tmp_path / "engines" / "rtx" / name / "float16_b1-1-4.plan" for name in ("digits", "mnist")]
    assert plans[0].read_bytes() == plans[1].read_bytes()
    assert json.loads(plans[1].with_suffix(".plan.json").read_text())["matrix"]["model"] == "mnist"
