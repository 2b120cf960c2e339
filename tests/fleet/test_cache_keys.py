"""Cache keys: what determines an engine changes its key, and nothing else does (reformatting with
`netdsl fmt`, comments, another weight file of another model). No builds here: keys only."""

import shutil

import pytest

from netdsl.cli import main
from netdsl.fleet import plan
from netdsl.fleet.cache import Cache, Corrupted

from .helpers import ROOT, RTX, lenet_copy, write_matrix


def keys(matrix, cache=None):
    return {job.name: job.key for job in plan(str(matrix), cache, use_cache=cache is not None)}


def test_fmt_and_comments_change_no_key_and_a_real_change_does(tmp_path):
    spec = tmp_path / "tiny.yaml"
    shutil.copy(ROOT / "tests" / "fmt" / "messy.yaml", spec)
    matrix = write_matrix(tmp_path / "m.yaml", [{"spec": "tiny.yaml", "random_weights": 0}], [RTX],
                          precisions=["float32", "float16"])
    before = keys(matrix)
    assert main(["fmt", str(spec)]) == 0
    formatted = spec.read_text()
    assert formatted == (ROOT / "tests" / "fmt" / "messy.expected.yaml").read_text()  # fmt did rewrite it
    assert keys(matrix) == before
    spec.write_text("# a new comment\n" + formatted.replace("name: tiny", "name: tiny  # same name"))
    assert keys(matrix) == before
    spec.write_text(formatted.replace("out_channels: 8", "out_channels: 6"))
    changed = keys(matrix)
    assert changed.keys() == before.keys() and not set(changed.values()) & set(before.values())


def test_each_part_of_the_key(tmp_path):
    lenet = lenet_copy(tmp_path / "a")
    models = [{"spec": str(lenet)}, {"name": "mnv3", "spec": str(ROOT / "specs/zoo/mobilenet_v3_small.yaml"),
                                     "random_weights": 0}]
    matrix = write_matrix(tmp_path / "m.yaml", models, [RTX], ["float32", "float16"], ["1,1,4", "1,8,8"])
    base = keys(matrix)
    assert len(set(base.values())) == 8
    weights = lenet.parent.parent / "weights" / "lenet.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1  # one bit of one weight
    weights.write_bytes(bytes(data))
    after = keys(matrix)
    assert {name for name in base if base[name] != after[name]} == {name for name in base if "/lenet/" in name}
    write_matrix(tmp_path / "m.yaml", [models[1] | {"random_weights": 1}], [RTX], ["float32"], ["1,1,4"])
    assert keys(matrix)["rtx/mnv3/float32_b1-1-4"] != base["rtx/mnv3/float32_b1-1-4"]
    for changed in ({**RTX, "compute_capabilities": ["sm86"]}, {**RTX, "tensorrt_version": "1.8.0"},
                    {**RTX, "resource": "other"}):
        write_matrix(tmp_path / "m.yaml", [models[1]], [changed], ["float32"], ["1,1,4"])
        assert keys(matrix)["rtx/mnv3/float32_b1-1-4"] != base["rtx/mnv3/float32_b1-1-4"], changed
    write_matrix(tmp_path / "m.yaml", [models[1]], [{**RTX, "num_gpus": 1}], ["float32"], ["1,1,4"])
    assert keys(matrix)["rtx/mnv3/float32_b1-1-4"] == base["rtx/mnv3/float32_b1-1-4"]  # where, not what


def test_a_corrupted_entry_is_detected(tmp_path):
    import hashlib
    import json

    cache = Cache(str(tmp_path / "cache"))
    key = "ab" * 32
    plan_bytes = b"not really a plan, but bytes with a digest"
    digest = hashlib.sha256(plan_bytes).hexdigest()
    record = {"plan": {"path": "engine.plan", "bytes": len(plan_bytes), "sha256": digest},
              "matrix": {"key": key}}
    cache.store(key, plan_bytes, record)
    assert cache.load(key) == (plan_bytes, record)
    folder = tmp_path / "cache" / key[:2] / key
    (folder / "engine.plan").write_bytes(plan_bytes[:-5])
    with pytest.raises(Corrupted, match="bytes"):
        cache.load(key)
    (folder / "engine.plan").write_bytes(plan_bytes[:-1] + b"?")
    with pytest.raises(Corrupted, match="SHA-256"):
        cache.load(key)
    (folder / "engine.plan.json").write_text(json.dumps(record)[:-3])
    with pytest.raises(Corrupted, match="unreadable"):
        cache.load(key)
    cache.store(key, plan_bytes, record)  # replaces the corrupted entry whole
    assert cache.load(key) == (plan_bytes, record)
    assert sorted(p.name for p in (tmp_path / "cache" / key[:2]).iterdir()) == [key]  # no temporaries left


def test_batches_go_to_a_minus_one_batch_and_profiles_to_named_dimensions(tmp_path, capsys):
    models = [{"spec": str(ROOT / "specs/lenet.yaml")},
              {"name": "v8n", "spec": str(ROOT / "specs/zoo/yolov8.yaml"), "set": {"scale": "n"}, "random_weights": 0}]
    profiles = [{"batch": "1:1:1"}, {"batch": "1:8:16", "height": "320:640:640", "width": "320:640:640"}]
    matrix = write_matrix(tmp_path / "m.yaml", models, [RTX], batches=["1,4,8"])
    text = matrix.read_text() + "profiles:\n" + "".join(
        "  - {" + ", ".join(f"{k}: '{v}'" for k, v in p.items()) + "}\n" for p in profiles)
    matrix.write_text(text)
    assert sorted(keys(matrix)) == ["rtx/lenet/float32_b1-4-8", "rtx/v8n/float32_batch1-1-1",
                                    "rtx/v8n/float32_batch1-8-16_height320-640-640_width320-640-640"]
    matrix.write_text(text.replace("height:", "depth:"))
    assert main(["matrix", "plan", str(matrix)]) == 2
    assert "the matrix's profile names depth, which" in capsys.readouterr().err
