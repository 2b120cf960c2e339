"""`netdsl deploy triton`: every config.pbtxt written is parsed by protobuf's text_format against Triton's
own ModelConfig (tritonclient's model_config_pb2; an unknown field or a wrong type fails the parse), and
each field is compared with what the engine's manifest records, through this file's own tables (the
dtype names are Triton's: docs "Datatypes"). Engines are built for real by TensorRT-RTX on the CPU."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

pytest.importorskip("tensorrt_rtx")
model_config_pb2 = pytest.importorskip("tritonclient.grpc.model_config_pb2")
from google.protobuf import text_format  # noqa: E402  (tritonclient[grpc] brings protobuf)

ROOT = pathlib.Path(__file__).resolve().parents[2]
LENET, RESNET18 = "specs/lenet.yaml", "specs/zoo/resnet18.yaml"
DETECTOR = "specs/dynamic/detector_dynamic.yaml"
TRITON_TYPES = {"float32": "TYPE_FP32", "float16": "TYPE_FP16", "int32": "TYPE_INT32", "uint8": "TYPE_UINT8"}


def netdsl(*args):
    return subprocess.run([sys.executable, "-m", "netdsl", *args], capture_output=True, text=True, timeout=300,
                          cwd=ROOT)


def parsed(folder) -> "model_config_pb2.ModelConfig":
    return text_format.Parse((folder / "config.pbtxt").read_text(), model_config_pb2.ModelConfig())


def manifest_of(folder, version=1) -> dict:
    return json.loads((folder / str(version) / "model.plan.json").read_text())


def listing(folder) -> list:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def check_tensors(config, manifest, batched: bool):
    for got, entry in zip(list(config.input) + list(config.output), manifest["inputs"] + manifest["outputs"],
                          strict=True):
        assert got.name == entry["name"]
        assert model_config_pb2.DataType.Name(got.data_type) == TRITON_TYPES[entry["dtype"]]
        assert list(got.dims) == (entry["shape"][1:] if batched else entry["shape"])


@pytest.fixture(scope="module")
def repository(tmp_path_factory):
    """One repository with three models: LeNet (its trained weights, float16), ResNet-18 (random weights,
    a labels file) and a detector with two optimization profiles."""
    repo = tmp_path_factory.mktemp("models")
    labels = repo.parent / "imagenet.txt"
    labels.write_text("".join(f"class {i}\n" for i in range(1000)))
    for args in ([LENET, "--fp16"], [RESNET18, "--random-weights", "--labels", str(labels), "--instances", "2",
                                     "--gpus", "0,1", "--max-queue-delay-us", "250"],
                 [DETECTOR, "--random-weights", "--version-policy", "all"]):
        result = netdsl("deploy", "triton", *args, "--repo", str(repo))
        assert result.returncode == 0, result.stderr
    return repo


def test_lenet_config_is_what_its_manifest_says(repository):
    folder = repository / "lenet"
    config, manifest = parsed(folder), manifest_of(folder)
    assert (config.name, config.platform) == ("lenet", "tensorrt_plan")
    # the -1 batch (1..64 in specs/lenet.yaml) leads every input and output: Triton batches, dims drop it
    assert manifest["inputs"][0]["batch"] == {"min": 1, "opt": 1, "max": 64}
    assert config.max_batch_size == 64
    check_tensors(config, manifest, batched=True)
    assert list(config.dynamic_batching.preferred_batch_size) == [64]  # opt batch 1 is no batch to wait for
    from netdsl.deploy.triton import BATCH
    from netdsl.ops import BATCH as batch_symbol

    assert str(batch_symbol) == BATCH  # how manifests write the -1 batch in dims
    assert config.version_policy.latest.num_versions == 1
    [group] = config.instance_group
    assert group.kind == model_config_pb2.ModelInstanceGroup.KIND_GPU and group.count == 1 and not group.gpus
    assert manifest["precision"] == "float16" and (folder / "1" / "model.plan").stat().st_size == \
        manifest["plan"]["bytes"]
    assert not (folder / "labels.txt").exists()


def test_classifier_gets_labels_instances_and_queue_delay(repository):
    folder = repository / "resnet18"
    config, manifest = parsed(folder), manifest_of(folder)
    check_tensors(config, manifest, batched=True)
    assert config.max_batch_size == manifest["inputs"][0]["batch"]["max"] == 32
    assert list(config.dynamic_batching.preferred_batch_size) == [8, 32]  # the profile's opt batch, and the max
    assert config.dynamic_batching.max_queue_delay_microseconds == 250
    [group] = config.instance_group
    assert group.count == 2 and list(group.gpus) == [0, 1]
    assert config.output[0].label_filename == "labels.txt"
    assert (folder / "labels.txt").read_text().splitlines() == [f"class {i}" for i in range(1000)]


def test_two_profiles_give_one_instance_group_each(repository):
    folder = repository / "detector_dynamic"
    config, manifest = parsed(folder), manifest_of(folder)
    assert len(manifest["profiles"]) == 2
    assert [list(g.profile) for g in config.instance_group] == [["0"], ["1"]]
    assert config.max_batch_size == 4  # dims batch: 1..4 in both profiles
    check_tensors(config, manifest, batched=True)
    assert list(config.input[0].dims) == [3, -1, -1]
    assert config.version_policy.HasField("all")


def test_next_version_explicit_version_and_refit_check_in_the_repository(repository):
    result = netdsl("deploy", "triton", LENET, "--fp16", "--repo", str(repository))
    assert result.returncode == 0, result.stderr
    assert "version 2" in result.stdout and (repository / "lenet" / "2" / "model.plan").is_file()
    before = listing(repository)
    result = netdsl("deploy", "triton", LENET, "--repo", str(repository), "--version", "2")
    assert result.returncode == 1 and "version 2 exists" in result.stderr and result.stderr.count("\n") == 1
    assert listing(repository) == before
    # the manifest beside the plan: refit --check reads the repository's engine as it reads any build's
    result = netdsl("refit", str(repository / "lenet" / "2" / "model.plan"), "--weights",
                    "weights/lenet.safetensors", "--check")
    assert "weights/lenet.safetensors fits engines built like" in result.stdout, result.stderr


def test_engine_with_its_manifest_and_a_changed_interface_is_refused(repository, tmp_path):
    plan = tmp_path / "lenet8.plan"
    assert netdsl("build", LENET, "-o", str(plan), "--batch", "8,8,8").returncode == 0
    before = listing(repository)
    result = netdsl("deploy", "triton", "--engine", str(plan), "--repo", str(repository))
    assert result.returncode == 1 and "a model's versions share one config.pbtxt" in result.stderr
    assert listing(repository) == before
    result = netdsl("deploy", "triton", "--engine", str(plan), "--repo", str(repository), "--name", "lenet8")
    assert result.returncode == 0, result.stderr
    folder = repository / "lenet8"
    config, manifest = parsed(folder), manifest_of(folder)
    # the batch is 8..8: Triton would form batches of 1..8, which this engine refuses, so it does not batch
    assert config.max_batch_size == 0 and not config.HasField("dynamic_batching")
    check_tensors(config, manifest, batched=False)
    assert list(config.input[0].dims) == [-1, 1, 32, 32]  # the engine's dim stays dynamic (profile 8..8)
    assert (folder / "1" / "model.plan").read_bytes() == plan.read_bytes()
    assert manifest["plan"]["sha256"] == json.loads(pathlib.Path(f"{plan}.json").read_text())["plan"]["sha256"]


def test_a_failed_build_leaves_the_repository_as_it_was(repository):
    before = listing(repository)
    entries = sorted(os.listdir(repository))
    result = netdsl("deploy", "triton", "specs/zoo/yolov8.yaml", "--set", "nms=true", "--random-weights",
                    "--repo", str(repository))
    assert result.returncode == 2 and "needs-full-tensorrt" in result.stdout + result.stderr
    assert listing(repository) == before and sorted(os.listdir(repository)) == entries  # no staging folder left


@pytest.mark.parametrize("args,code,says", [
    (["--gpus", "0,x"], 2, "expected GPU numbers"),
    (["--version-policy", "newest"], 2, "--version-policy newest"),
    (["--engine", "x.plan"], 2, "not both"),
    (["--name", "../up"], 2, "--name `../up`"),
    (["--labels", "README.md"], 1, "names for 10 classes"),
    (["--max-batch-size", "65"], 1, "serves batches up to 64"),
])
def test_bad_inputs_are_one_line_errors_and_write_nothing(tmp_path, args, code, says):
    repo = tmp_path / "repo"
    result = netdsl("deploy", "triton", LENET, "--repo", str(repo), *args)
    assert result.returncode == code, result.stderr
    assert says in result.stderr and "Traceback" not in result.stderr
    assert not repo.exists()  # not even the repository folder the command would have made


def test_nms_detector_config_from_its_manifest():
    """YOLOv8n with nms=true: TensorRT-RTX cannot build TensorRT's NMS layer ("no runners"; full TensorRT
    does), so no engine of it exists here. What is checked is the config netdsl writes from the manifest
    that `netdsl build` records for it (netdsl.deploy.planned_manifest: the same inputs, outputs and
    profiles as netdsl.build records), parsed by Triton's schema. No plan is involved."""
    from netdsl.build import options_for
    from netdsl.deploy import planned_manifest
    from netdsl.deploy.pbtxt import text
    from netdsl.deploy.triton import TritonOptions, model_config
    from netdsl.spec import load

    checked = load(str(ROOT / "specs/zoo/yolov8.yaml"), params={"nms": True})
    manifest = planned_manifest(checked, options_for(checked, precision="float16"), "model.plan")
    config = text_format.Parse(text(model_config(manifest, "yolov8", TritonOptions(), labels=True)),
                               model_config_pb2.ModelConfig())
    assert [o.name for o in config.output] == ["num_dets", "boxes", "scores", "classes"]
    check_tensors(config, manifest, batched=True)
    assert [list(o.dims) for o in config.output] == [[1], [300, 4], [300], [300]]
    assert [model_config_pb2.DataType.Name(o.data_type) for o in config.output] == \
        ["TYPE_INT32", "TYPE_FP32", "TYPE_FP32", "TYPE_INT32"]
    assert config.output[3].label_filename == "labels.txt" and not config.output[0].label_filename
    assert config.max_batch_size == 16 and list(config.input[0].dims) == [3, -1, -1]


def test_yolo_classifier_gets_its_labels_on_output0(tmp_path):
    """YOLOv8n-cls (`--set task=classify`, output0 [B, 1000] softmax) built here with random weights: the
    names given by --labels go on its one output, one a line; ImageNet's are never guessed, and a spec
    with 80 classes is not taken for COCO when it classifies."""
    names = tmp_path / "imagenet.txt"
    names.write_text("".join(f"class {i}\n" for i in range(1000)))
    repo = tmp_path / "repo"
    result = netdsl("deploy", "triton", "specs/zoo/yolov8.yaml", "--set", "task=classify", "--random-weights",
                    "--labels", str(names), "--repo", str(repo))
    assert result.returncode == 0, result.stderr
    config, manifest = parsed(repo / "yolov8"), manifest_of(repo / "yolov8")
    check_tensors(config, manifest, batched=True)
    assert [o.name for o in config.output] == ["output0"] and list(config.output[0].dims) == [1000]
    assert config.output[0].label_filename == "labels.txt"
    assert (repo / "yolov8" / "labels.txt").read_text() == names.read_text()
    result = netdsl("deploy", "triton", "specs/zoo/yolov8.yaml", "--set", "task=classify", "--set", "classes=80",
                    "--random-weights", "--repo", str(repo), "--name", "cls80")
    assert result.returncode == 0, result.stderr
    assert not parsed(repo / "cls80").output[0].label_filename and not (repo / "cls80" / "labels.txt").exists()
    result = netdsl("deploy", "triton", "specs/zoo/yolov8.yaml", "--set", "task=classify", "--set", "classes=10",
                    "--random-weights", "--labels", str(names), "--repo", str(repo), "--name", "cls10")
    assert result.returncode == 1 and "1000 names for 10 classes" in result.stderr, result.stderr
    assert not (repo / "cls10").exists()


@pytest.mark.slow  # builds YOLOv8n (about 5-15 s here)
def test_ensemble_sends_frames_through_the_conversion_to_the_network(tmp_path):
    """--ensemble: YOLOv8n built with frames=false, its frame conversion built alone, and an ensemble
    whose steps connect them; every config parsed by Triton's schema, every map checked against the
    configs of the models it names, and the conversion's spec run on a frame against numpy's own BGR
    to RGB, / 255, NHWC to NCHW."""
    import numpy as np

    from netdsl import reference
    from netdsl.spec import load

    result = netdsl("deploy", "triton", "specs/zoo/yolov8.yaml", "--ensemble", "--random-weights",
                    "--repo", str(tmp_path))
    assert result.returncode == 0, result.stderr
    configs = {name: parsed(tmp_path / name) for name in ("yolov8_preprocess", "yolov8", "yolov8_ensemble")}
    pre, net, joined = configs["yolov8_preprocess"], configs["yolov8"], configs["yolov8_ensemble"]
    assert joined.platform == "ensemble" and (tmp_path / "yolov8_ensemble" / "1").is_dir()
    assert [(t.name, t.data_type, list(t.dims)) for t in joined.input] == \
        [(t.name, t.data_type, list(t.dims)) for t in pre.input]
    assert model_config_pb2.DataType.Name(joined.input[0].data_type) == "TYPE_UINT8"
    assert list(joined.input[0].dims) == [-1, -1, 3]
    assert [(t.name, list(t.dims)) for t in joined.output] == [(t.name, list(t.dims)) for t in net.output]
    assert joined.max_batch_size == pre.max_batch_size == net.max_batch_size == 16
    first, second = joined.ensemble_scheduling.step
    assert (first.model_name, second.model_name) == ("yolov8_preprocess", "yolov8")
    assert set(first.input_map) == {t.name for t in pre.input} and set(first.output_map) == {t.name for t in pre.output}
    assert set(second.input_map) == {t.name for t in net.input}
    assert set(second.output_map) == {t.name for t in net.output}
    assert second.input_map["images"] == first.output_map[pre.output[0].name]  # one tensor joins the steps
    check_tensors(net, manifest_of(tmp_path / "yolov8"), batched=True)
    assert manifest_of(tmp_path / "yolov8")["spec"]["params"]["frames"] is False
    frame = np.random.default_rng(0).integers(0, 256, (1, 128, 160, 3), dtype=np.uint8)
    checked = load(str(tmp_path / "yolov8_preprocess" / "1" / "model.yaml"))
    [got] = reference.run(checked, {}, {"images": frame}).values()
    expected = frame[..., ::-1].transpose(0, 3, 1, 2).astype(np.float32) / np.float32(255)
    # x * (1/255) against x / 255: one more float32 rounding, at most a step of 1.0 (2^-23)
    assert got.shape == (1, 3, 128, 160) and np.abs(got - expected).max() <= 2 ** -23


def test_several_specs_are_deployed_all_or_none(tmp_path):
    labels = tmp_path / "digits.txt"
    labels.write_text("".join(f"{i}\n" for i in range(10)))  # LeNet's ten classes, not ResNet-18's 1000
    repo = tmp_path / "repo"
    result = netdsl("deploy", "triton", LENET, RESNET18, "--random-weights", "--labels", str(labels),
                    "--repo", str(repo))
    assert result.returncode == 1 and "10 names for 1000 classes" in result.stderr
    assert not repo.exists()  # LeNet was built and staged, then discarded with the rest (and the new folder)


@pytest.mark.parametrize("args,says", [
    ([LENET, LENET], "model name lenet given twice"),
    ([LENET, "--ensemble"], "has no `frames` parameter"),
    (["--engine", "lenet.plan", "--fp16"], "--fp16/--bf16: build options, and --engine builds nothing"),
])
def test_refused_before_anything_is_built(tmp_path, args, says):
    result = netdsl("deploy", "triton", *args, "--repo", str(tmp_path / "repo"))
    assert result.returncode == 2 and says in result.stderr and result.stderr.count("\n") == 1, result.stderr


def entry(name, shape, dims=None, batch=None):
    return {"name": name, "dtype": "float32", "shape": shape, **({"dims": dims} if dims else {}),
            **({"batch": batch} if batch else {})}


@pytest.mark.parametrize("inputs,outputs,profiles,size,preferred", [
    # a -1 batch (`batch:`) with named dims too: dims write it `N`
    ([entry("x", [-1, 3, -1], ["N", 3, "h"], {"min": 1, "opt": 4, "max": 8})],
     [entry("y", [-1, -1], ["N", "h"])], [{"h": {"min": 8, "opt": 16, "max": 32}}], 8, [4, 8]),
    # two profiles: the smaller largest batch, both opt batches
    ([entry("x", [-1, 3], ["b", 3])], [entry("y", [-1, 2], ["b", 2])],
     [{"b": {"min": 1, "opt": 2, "max": 4}}, {"b": {"min": 1, "opt": 8, "max": 16}}], 4, [2, 4]),
    # the batch does not start at 1 in every profile: Triton could not send a batch of 1
    ([entry("x", [-1, 3], ["b", 3])], [entry("y", [-1, 2], ["b", 2])],
     [{"b": {"min": 1, "opt": 2, "max": 4}}, {"b": {"min": 2, "opt": 8, "max": 16}}], 0, []),
    # inputs led by different dims, or a fixed one: no batch Triton could split
    ([entry("x", [-1, 3], ["b", 3]), entry("z", [-1, 3], ["c", 3])], [entry("y", [-1, 2], ["b", 2])],
     [{"b": {"min": 1, "opt": 1, "max": 4}, "c": {"min": 1, "opt": 1, "max": 4}}], 0, []),
    ([entry("x", [1, 3])], [entry("y", [1, 2])], [], 0, []),
])
def test_max_batch_size_rule(inputs, outputs, profiles, size, preferred):
    from netdsl.deploy.triton import batching

    decided = batching({"inputs": inputs, "outputs": outputs, "profiles": profiles})
    assert (decided.max_batch_size, decided.preferred) == (size, preferred), decided.reason
