"""Plugin layers against TensorRT's plugin registry (here TensorRT-RTX on a CPU), with NetdslTestRepeat,
a plugin written in Python for the tests (tests/plugin_repeat.py), and NVIDIA's EfficientNMS_TRT where
the registry offers it. TensorRT-RTX 1.7's Python API has no add_plugin_v3: there the layer is refused,
located, after its creator has made the plugin from netdsl's fields; with full TensorRT the same tests
build it and check the plugin's own shape function against the declared outputs."""

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import netdsl
import plugin_repeat
from netdsl.diagnostics import SpecError

trt = pytest.importorskip("tensorrt_rtx")
from netdsl.trt import backend  # noqa: E402

TESTS = pathlib.Path(__file__).resolve().parent.parent
SPEC = """\
netdsl: 1
inputs: [{name: x, shape: [-1, 3, 4], batch: {min: 1, opt: 2, max: 4}}]
layers:
  - name: rep
    kind: plugin
    plugin: {name: NetdslTestRepeat, version: "1", namespace: netdsl_test}
    fields: {repeats: 3, scale: 0.5, mode: edge, gains: {type: float64, value: [1, 2]}, seed: {type: int64, value: -7}}
    outputs: [{shape: ["in0[0]", "in0[1]", "in0[2] * 3"]}]
  - {name: act, kind: relu}
outputs: [act]
"""


def netdsl_cli(*args, cwd=None, env=None):
    return subprocess.run([sys.executable, "-m", "netdsl", *args], capture_output=True, text=True, timeout=300,
                          cwd=cwd, env=env)


def can_add_plugins() -> bool:
    network = backend().trt.Builder(trt.Logger()).create_network(0)
    return hasattr(network, "add_plugin_v3")


@pytest.fixture
def spec(tmp_path):
    plugin_repeat.register(backend().trt)
    path = tmp_path / "plug.yaml"
    path.write_text(SPEC)
    return path


def test_the_creator_gets_netdsls_fields_typed_and_the_layer_is_added_where_tensorrt_can(spec):
    plugin_repeat.RECEIVED.clear()
    network = netdsl.load(str(spec)).bind({})
    if can_add_plugins():
        engine = network.build()
        assert engine.manifest is None and engine.plan.outputs[0]["shape"] == [-1, 3, 12]
    else:
        with pytest.raises(SpecError) as refused:
            network.build()
        [problem] = refused.value.diagnostics
        assert refused.value.exit_code == 2 and problem.code == "needs-full-tensorrt"
        assert (problem.pos.line, problem.layer) == (6, "rep") and "add_plugin_v3" in problem.message
        assert "full TensorRT 10/11" in problem.hint
    [(layer, fields)] = plugin_repeat.RECEIVED
    assert layer == "rep"
    assert {name: (kind, values.dtype.name, values.tolist()) for name, (kind, values) in fields.items()} == {
        "repeats": ("INT32", "int32", [3]), "scale": ("FLOAT32", "float32", [0.5]),
        "mode": ("CHAR", "int8", list(b"edge")), "gains": ("FLOAT64", "float64", [1.0, 2.0]),
        "seed": ("INT64", "int64", [-7])}


@pytest.mark.skipif("not can_add_plugins()", reason="TensorRT-RTX 1.7's Python API cannot add plugin layers "
                    "(INetworkDefinition has no add_plugin_v3): needs full TensorRT")
def test_declared_shapes_that_the_plugin_disagrees_with_are_located(spec):
    spec.write_text(SPEC.replace('"in0[2] * 3"', '"in0[2] * 2"'))
    with pytest.raises(SpecError) as refused:
        netdsl.load(str(spec)).bind({}).build()
    [problem] = refused.value.diagnostics
    assert problem.code == "plugin-outputs" and problem.pos.line == 8 and "[-1, 3, 12]" in problem.message


def test_a_missing_creator_is_located_and_names_the_plugin_with_the_versions_the_registry_has(spec):
    spec.write_text(SPEC.replace('version: "1"', 'version: "2"').replace("outputs: [act]", """\
  - {name: again, kind: plugin, plugin: NoSuchPlugin}
outputs: [again]
"""))
    with pytest.raises(SpecError) as refused:
        netdsl.load(str(spec)).bind({}).build()
    first, second = refused.value.diagnostics  # both, in one report
    assert refused.value.exit_code == 2 and first.code == second.code == "unknown-plugin"
    assert "plugin NetdslTestRepeat (version '2', namespace 'netdsl_test')" in first.message
    assert first.hint == "the registry has NetdslTestRepeat with version '1', namespace 'netdsl_test'"
    assert "NoSuchPlugin" in second.message and "--plugin-library" in second.hint and second.pos.line == 10


def test_build_without_the_creator_is_refused_located_with_exit_2_and_nothing_written(spec, tmp_path):
    result = netdsl_cli("build", str(spec), "--random-weights", "-o", str(tmp_path / "p.plan"))
    assert result.returncode == 2, result.stderr
    assert f"{spec}:6:13: error[unknown-plugin]: plugin NetdslTestRepeat" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plug.yaml"]


@pytest.mark.parametrize("library,says", [("missing.so", "no such file"), ("fake.so", "TensorRT could not load it")])
def test_plugin_libraries_that_do_not_load_are_refused(spec, tmp_path, library, says):
    (tmp_path / "fake.so").write_text("not a library\n")
    spec.write_text(SPEC.replace("inputs:", f"plugins: [{library}]\ninputs:", 1))
    result = netdsl_cli("build", str(spec), "--random-weights", "-o", str(tmp_path / "p.plan"))
    assert result.returncode == 2 and f"{spec}:2:11: error[plugin-library]: plugin library" in result.stderr
    assert says in result.stderr
    lenet = str(TESTS.parent / "specs" / "lenet.yaml")
    flag = netdsl_cli("build", lenet, "-o", str(tmp_path / "l.plan"), "--plugin-library", str(tmp_path / library))
    assert flag.returncode == 2 and says in flag.stderr and "Traceback" not in flag.stderr


def test_validate_loads_no_library(spec, tmp_path):
    spec.write_text(SPEC.replace("inputs:", "plugins: [missing.so]\ninputs:", 1))
    result = netdsl_cli("validate", str(spec))
    assert result.returncode == 0, result.stderr


def test_the_reference_refuses_a_plugin_by_name_unless_given_its_numpy_implementation(spec, tmp_path):
    x = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    refused = netdsl_cli("reference", str(spec), "--input", str(tmp_path / "x.npy"))
    assert refused.returncode == 1 and "plugin NetdslTestRepeat: the reference executor cannot run" in refused.stderr
    env = {"PYTHONPATH": str(TESTS), "PATH": "/usr/bin:/bin"}
    for given in ("plugin_repeat:repeat", "NetdslTestRepeat=plugin_repeat:repeat"):
        result = netdsl_cli("reference", str(spec), "--input", str(tmp_path / "x.npy"), "-o", str(tmp_path / "y.npy"),
                            "--plugin-reference", given, env=env)
        assert result.returncode == 0, result.stderr
        torch = pytest.importorskip("torch")  # the oracle: torch's repeat, not the test plugin's numpy
        want = torch.relu(torch.from_numpy(x).repeat(1, 1, 3) * 0.5).numpy()
        np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), want)
    other = netdsl_cli("reference", str(spec), "--input", str(tmp_path / "x.npy"), "--plugin-reference",
                       "Other=plugin_repeat:repeat", env=env)
    assert other.returncode == 1 and "cannot run a plugin's code" in other.stderr


@pytest.mark.parametrize("given,says", [("plugin_repeat", "expected [NAME=]module:function"),
                                        ("no_such_module_here:f", "cannot import no_such_module_here"),
                                        ("plugin_repeat:nothing", "has no function `nothing`")])
def test_bad_plugin_references_are_usage_errors(spec, tmp_path, given, says):
    np.save(tmp_path / "x.npy", np.zeros((2, 3, 4), np.float32))
    result = netdsl_cli("reference", str(spec), "--input", str(tmp_path / "x.npy"), "--plugin-reference", given,
                        env={"PYTHONPATH": str(TESTS)})
    assert result.returncode == 2 and says in result.stderr and "Traceback" not in result.stderr


def test_the_reference_flag_says_its_module_is_imported_only_with_it():
    result = netdsl_cli("reference", "--help")
    assert "MODULE is imported only with this flag" in " ".join(result.stdout.split())


def test_compare_refuses_a_plugin_whose_creator_is_not_registered(spec):
    # the Python creator lives in the test process, not in the command's: its registry lacks it
    result = netdsl_cli("compare", str(spec), "--plugin-reference", "plugin_repeat:repeat",
                        env={"PYTHONPATH": str(TESTS), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 2 and "error[unknown-plugin]" in result.stderr


EFFICIENT_NMS = """\
netdsl: 1
inputs: [{name: boxes, shape: [1, 100, 4]}, {name: scores, shape: [1, 100, 3]}]
layers:
  - name: nms
    kind: plugin
    inputs: [boxes, scores]
    plugin: EfficientNMS_TRT
    fields: {score_threshold: 0.25, iou_threshold: 0.45, max_output_boxes: 20, background_class: -1,
             score_activation: 0, box_coding: 0}
    outputs:
      - {name: num_detections, shape: ["in0[0]", 1], dtype: int32}
      - {name: detection_boxes, shape: ["in0[0]", 20, 4]}
      - {name: detection_scores, shape: ["in0[0]", 20]}
      - {name: detection_classes, shape: ["in0[0]", 20], dtype: int32}
outputs: [nms.num_detections, nms.detection_boxes, nms.detection_scores, nms.detection_classes]
"""


def test_efficient_nms_from_nvidias_plugin_library(tmp_path):
    trt_module = backend().trt
    trt_module.init_libnvinfer_plugins(trt.Logger(), "")
    if trt_module.get_plugin_registry().get_creator("EfficientNMS_TRT", "1", "") is None:
        pytest.skip(f"{backend().flavour} {backend().version}'s plugin registry has no EfficientNMS_TRT "
                    "(TensorRT-RTX ships no libnvinfer_plugin)")
    spec = tmp_path / "nms.yaml"
    spec.write_text(EFFICIENT_NMS)
    engine = netdsl.load(str(spec)).bind({}).build()
    assert [o["shape"] for o in engine.plan.outputs] == [[1, 1], [1, 20, 4], [1, 20], [1, 20]]
    assert json.dumps(engine.plan.outputs)  # the manifest's record of the outputs


def test_the_plugin_layers_and_libraries_a_build_records_in_its_manifest(spec):
    from netdsl.ops.plugin import plugin_record
    from netdsl.spec import load

    checked = load(str(spec))
    assert plugin_record(checked.graph.nodes) == {
        "layers": [{"layer": "rep", "name": "NetdslTestRepeat", "version": "1", "namespace": "netdsl_test"}],
        "libraries": []}  # none loaded in this process: the test plugin is Python
    assert plugin_record(load(str(TESTS.parent / "specs" / "lenet.yaml")).graph.nodes) is None


def test_a_library_that_failed_to_load_fails_again(tmp_path):
    from netdsl.diagnostics import UsageError
    from netdsl.ops._plugin_trt import load_library

    (tmp_path / "fake.so").write_text("not a library\n")
    for _ in range(2):
        with pytest.raises(UsageError, match="TensorRT could not load it"):
            load_library(backend().trt, str(tmp_path / "fake.so"))


def test_inspect_of_a_manifest_shows_its_plugins(tmp_path):
    """The manifest of a real build, with the `plugins` record a build with a plugin layer adds."""
    plan = tmp_path / "lenet.plan"
    assert netdsl_cli("build", str(TESTS.parent / "specs" / "lenet.yaml"), "-o", str(plan)).returncode == 0
    record = json.loads((tmp_path / "lenet.plan.json").read_text())
    record["plugins"] = {"layers": [{"layer": "rep", "name": "NetdslTestRepeat", "version": "1",
                                     "namespace": "netdsl_test"}],
                         "libraries": [{"path": "/opt/lib/librepeat.so", "sha256": "0" * 64}]}
    (tmp_path / "lenet.plan.json").write_text(json.dumps(record))
    shown = netdsl_cli("inspect", str(plan) + ".json").stdout.splitlines()
    assert "plugin rep: NetdslTestRepeat version 1 namespace 'netdsl_test'" in shown
    assert "plugin library /opt/lib/librepeat.so" in shown
