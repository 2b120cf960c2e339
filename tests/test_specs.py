"""Every shipped spec validates; whole-network parameter counts equal the published figures."""

import pathlib

import pytest

from netdsl import summary
from netdsl.spec import load

ROOT = pathlib.Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").rglob("*.yaml"))

# Published figures: LeNet-5 as in tensorrtx (and the issue); ResNet-18 and ResNet-50 from torchvision's
# model docs.
PUBLISHED_PARAMS = {"lenet.yaml": 61_706, "resnet18.yaml": 11_689_512, "resnet50.yaml": 25_557_032,
                    "alexnet.yaml": 61_100_840, "vgg16.yaml": 138_357_544, "mobilenet_v2.yaml": 3_504_872}


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_spec_is_valid(path):
    load(str(path))


@pytest.mark.parametrize("name, params", PUBLISHED_PARAMS.items())
def test_parameter_count_matches_published_figure(name, params):
    [path] = [p for p in SPECS if p.name == name]
    assert summary.to_json(load(str(path)))["total_params"] == params


@pytest.mark.parametrize("name, gmacs", [("resnet18", 1.81), ("resnet50", 4.09), ("alexnet", 0.71),
                                         ("vgg16", 15.47), ("mobilenet_v2", 0.30)])
def test_macs_match_published_figure(name, gmacs):
    # torchvision's model docs list these GFLOPS (multiply-accumulates) for 224x224 inputs.
    macs = summary.to_json(load(str(ROOT / f"specs/zoo/{name}.yaml")))["total_macs"]
    assert round(macs / 1e9, 2) == gmacs


def test_lenet_output_and_names_follow_tensorrtx():
    checked = load(str(ROOT / "specs/lenet.yaml"))
    assert [i.name for i in checked.graph.inputs] == ["data"]
    assert [o.name for o in checked.graph.outputs] == ["prob"]
    assert checked.types["prob"].shape[1:] == (10,)
