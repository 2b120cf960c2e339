"""Hostile input, round two: every command family on generated hostile inputs, as an attacker and as a careless
script would give them. Each case runs the real command in a fresh folder, in a subprocess with a 20 s
timeout and a 4 GiB address-space limit, and must end with a one-line message and exit 1 (the input is
wrong), 2 (usage or environment) or 4 (this machine cannot run engines): no traceback, no hang, no bad
value accepted, no file changed or left behind (the folder, and the shipped files a command could touch,
are compared byte for byte before and after)."""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import resource
import struct
import subprocess
import sys
from dataclasses import dataclass, field

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
LENET = ROOT / "specs" / "lenet.yaml"
SHIPPED = [ROOT / "weights" / "lenet_int8.scales", ROOT / "weights" / "lenet.safetensors", LENET,
           ROOT / "specs" / "quantized" / "lenet_int8.yaml"]
TIMEOUT = 20
ADDRESS_SPACE = 4 << 30


@dataclass
class Case:
    family: str
    name: str
    argv: list  # "{dir}" stands for the case's folder
    files: dict = field(default_factory=dict)  # name -> bytes, str, or a function of the folder making it
    codes: tuple = (1,)
    message: str = ""  # a fragment the message must hold ("{dir}" as above)
    writes: tuple = ()  # files the command may write (a refusal writes none)


def spec_text(layers: str, inputs: str = "  - {name: x, shape: [1, 3, 8, 8]}", params: str = "") -> str:
    return f"netdsl: 1\nname: hostile\n{params}inputs:\n{inputs}\nlayers:\n{layers}\n"


HUGE_CHANNELS = spec_text("  - {name: conv, kind: convolution, out_channels: 4611686018427387904, kernel: 1}")
HUGE_CONSTANT = spec_text("  - {name: c, kind: constant, value: 1.0, shape: [100000, 100000]}\n"
                          "  - {name: s, kind: add, inputs: [x, c]}")
WIDTH_PARAM = spec_text("  - {name: conv, kind: convolution, out_channels: $c, kernel: 1}", params="params:\n  c: 4\n")
DYNAMIC_HUGE = spec_text("  - {name: conv, kind: convolution, out_channels: 65536, kernel: 1}",
                         inputs="  - {name: x, shape: [-1, 3, height, width], batch: {min: 1, opt: 1, max: 4096}}",
                         params="") .replace("layers:", "dims:\n  height: {min: 8, opt: 8, max: 65536}\n"
                                              "  width: {min: 8, opt: 8, max: 65536}\nlayers:")


def fifo(name):
    def make(folder):
        os.mkfifo(folder / name)
    return make


def deep_manifest(folder):
    (folder / "net.plan").write_bytes(b"\0" * 64)
    (folder / "net.plan.json").write_text("[" * 100_000 + "]" * 100_000)


def calib_table(values):
    lines = ["TRT-8601-EntropyCalibration2"]
    for index, value in enumerate(values):
        lines.append(f"t{index}: {struct.pack('>f', value).hex()}")
    return "\n".join(lines) + "\n"


def onnx_two_writers(folder):
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    nodes = [helper.make_node("Relu", ["x"], ["y"]), helper.make_node("Sigmoid", ["x"], ["y"])]
    model = helper.make_model(helper.make_graph(nodes, "g", [x], [y]), opset_imports=[helper.make_opsetid("", 17)])
    (folder / "model.onnx").write_bytes(model.SerializeToString())


def onnx_opset_99(folder):
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    model = helper.make_model(helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y]),
                              opset_imports=[helper.make_opsetid("", 99)])
    (folder / "model.onnx").write_bytes(model.SerializeToString())


CASES = [
    # validate: bounded work is checked where the spec is read
    Case("validate", "huge out_channels", ["validate", "{dir}/s.yaml"], {"s.yaml": HUGE_CHANNELS}, message="s.yaml:"),
    Case("validate", "constant of 1e10 elements", ["validate", "{dir}/s.yaml"], {"s.yaml": HUGE_CONSTANT},
         message="s.yaml:"),
    Case("validate", "--set of 60 digits", ["validate", "{dir}/s.yaml", "--set", "c=" + "9" * 60],
         {"s.yaml": WIDTH_PARAM}, codes=(1, 2)),
    Case("validate", "dynamic sizes too large at the profile's max", ["validate", "{dir}/s.yaml"],
         {"s.yaml": DYNAMIC_HUGE}, message="s.yaml:"),
    Case("validate", "spec is a FIFO", ["validate", "{dir}/s.yaml"], {"s.yaml": fifo("s.yaml")}, codes=(1, 2),
         message="s.yaml"),
    Case("validate", "spec is a folder", ["validate", "{dir}"], {}, codes=(1, 2)),
    # build: refusals before TensorRT, and output paths
    Case("build", "huge out_channels", ["build", "{dir}/s.yaml", "--random-weights", "-o", "{dir}/s.plan"],
         {"s.yaml": HUGE_CHANNELS}, message="s.yaml:"),
    Case("build", "-o /dev/null", ["build", str(LENET), "-o", "/dev/null"], codes=(2,), message="/dev/null"),
    Case("build", "-o a FIFO", ["build", str(LENET), "-o", "{dir}/out.plan"], {"out.plan": fifo("out.plan")},
         codes=(2,), message="out.plan"),
    Case("build", "-o ''", ["build", str(LENET), "-o", ""], codes=(2,)),
    Case("build", "an ONNX file", ["build", "{dir}/model.onnx"], {"model.onnx": onnx_opset_99}, codes=(2,),
         message="netdsl import"),
    Case("build", "--int8", ["build", str(LENET), "--int8", "-o", "{dir}/x.plan"], codes=(2,), message="calibrate"),
    # reference, inspect, export on the same hostile specs
    Case("reference", "constant of 1e10 elements", ["reference", "{dir}/s.yaml", "--random-weights", "--input",
                                                    "{dir}/x.npy"],
         {"s.yaml": HUGE_CONSTANT, "x.npy": lambda folder: _array(folder / "x.npy", (1, 3, 8, 8))}, message="s.yaml:"),
    Case("inspect", "huge out_channels", ["inspect", "{dir}/s.yaml"], {"s.yaml": HUGE_CHANNELS}, message="s.yaml:"),
    Case("inspect", "a plan, no GPU", ["inspect", "{dir}/net.plan"], {"net.plan": b"\0" * 64, "net.plan.json": "{}"},
         codes=(1, 2, 4)),
    Case("export", "huge out_channels", ["export", "{dir}/s.yaml", "--random-weights", "-o", "{dir}/s.onnx"],
         {"s.yaml": HUGE_CHANNELS}, message="s.yaml:"),
    Case("export", "-o /dev/null", ["export", str(LENET), "-o", "/dev/null"], codes=(2,), message="/dev/null"),
    # import: what the ONNX checker refuses
    Case("import", "two nodes write one tensor", ["import", "{dir}/model.onnx", "-o", "{dir}/m.yaml"],
         {"model.onnx": onnx_two_writers}),
    Case("import", "opset 99", ["import", "{dir}/model.onnx", "-o", "{dir}/m.yaml"], {"model.onnx": onnx_opset_99}),
    Case("import", "model is a FIFO", ["import", "{dir}/model.onnx", "-o", "{dir}/m.yaml"],
         {"model.onnx": fifo("model.onnx")}, codes=(1, 2)),
    # scales: ranges that are not finite and positive
    *[Case("scales", f"calib.table range {label}", ["scales", "import",
                                                     str(ROOT / "specs" / "quantized" / "lenet_int8.yaml"),
                                                     "{dir}/calib.table", "-o", "{dir}/out.scales"],
           {"calib.table": calib_table([0.5, value])}, message="calib.table:")
      for label, value in (("NaN", float("nan")), ("inf", float("inf")), ("negative", -0.25), ("zero", 0.0))],
    # calibrate: NaN samples are named
    Case("calibrate", "NaN samples", ["calibrate", str(ROOT / "specs" / "quantized" / "lenet_int8.yaml"), "--data",
                                      "{dir}/data", "-o", "{dir}/out.scales"],
         {"data": lambda folder: _nan_samples(folder / "data")}, codes=(1,), message="samples.npy"),
    Case("calibrate", "no -o: the spec's own scales file stays", ["calibrate", str(ROOT / "specs" / "quantized" /
                                                                                 "lenet_int8.yaml"), "--data",
                                                                  "{dir}/data"],
         {"data": lambda folder: _nan_samples(folder / "data", nan=False)}, codes=(2,), message="-o"),
    # detect: pictures that are not pictures
    Case("detect", "not a picture", ["detect", str(ROOT / "specs" / "zoo" / "yolov8.yaml"), "{dir}/a.jpg",
                                     "--random-weights"], {"a.jpg": b"GIF89a" + b"\0" * 20}, codes=(1,),
         message="a.jpg"),
    Case("detect", "picture is a FIFO", ["detect", str(ROOT / "specs" / "zoo" / "yolov8.yaml"), "{dir}/a.jpg",
                                         "--random-weights"], {"a.jpg": fifo("a.jpg")}, codes=(1, 2),
         message="a.jpg"),
    # refit --check and run on manifests built to hurt
    Case("refit", "100,000-deep manifest", ["refit", "{dir}/net.plan", "--weights", str(ROOT / "weights" /
                                                                                        "lenet.safetensors"),
                                            "--check"], {"net.plan": deep_manifest}, codes=(1, 2)),
    Case("run", "100,000-deep manifest", ["run", "{dir}/net.plan", "--input", "{dir}/x.npy"],
         {"net.plan": deep_manifest}, codes=(1, 2, 4)),
    # diff: a revision is never an option of git
    Case("diff", "revision that is a git option", ["diff", "--", "--output={dir}/leak.txt:t.yaml", str(LENET)],
         codes=(1, 2)),
]


def _nan_samples(folder, nan=True):
    import numpy as np

    folder.mkdir()
    samples = np.random.default_rng(0).random((4, 1, 32, 32), dtype=np.float32)
    if nan:
        samples[2, 0, 5, 7] = np.nan
    np.save(folder / "samples.npy", samples)


def _array(path, shape):
    import numpy as np

    np.save(path, np.zeros(shape, np.float32))


def snapshot(folder: pathlib.Path) -> dict:
    state = {}
    for path in sorted(folder.rglob("*")):
        if path.is_fifo():
            state[str(path)] = "fifo"
        elif path.is_file():
            state[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            state[str(path)] = "dir" if path.is_dir() else "other"
    return state


def limit_resources():
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def ids(case):
    return f"{case.family}: {case.name}"


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_hostile_case(case, tmp_path):
    folder = tmp_path / "case"
    folder.mkdir()
    for name, content in case.files.items():
        if callable(content):
            if name.endswith(".onnx"):
                pytest.importorskip("onnx")
            content(folder)
        elif isinstance(content, bytes):
            (folder / name).write_bytes(content)
        else:
            (folder / name).write_text(content)
    before, shipped = snapshot(folder), {p: p.read_bytes() for p in SHIPPED}
    dev_null = os.stat("/dev/null").st_mode
    argv = [a.replace("{dir}", str(folder)) for a in case.argv]
    try:
        result = subprocess.run([sys.executable, "-m", "netdsl", *argv], cwd=tmp_path, capture_output=True, text=True,
                                timeout=TIMEOUT, preexec_fn=limit_resources, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail(f"no answer within {TIMEOUT} s")
    said = result.stdout + result.stderr
    assert "Traceback" not in said and "internal error" not in said.lower(), said
    assert result.returncode in case.codes, f"exit {result.returncode}: {said}"
    assert case.message.replace("{dir}", str(folder)) in said, said
    assert said.strip(), "a refusal says why"
    assert snapshot(folder) == before, "the command changed or left files in its folder"
    assert sorted(os.listdir(tmp_path)) == ["case"], "the command wrote into its working folder"
    assert {p: p.read_bytes() for p in SHIPPED} == shipped, "a shipped file changed"
    assert os.stat("/dev/null").st_mode == dev_null


def test_every_family_is_covered():
    families = {case.family for case in CASES}
    assert families == {"validate", "build", "reference", "inspect", "export", "import", "calibrate", "scales",
                        "detect", "refit", "run", "diff"}
    print({family: sum(case.family == family for case in CASES) for family in sorted(families)})
