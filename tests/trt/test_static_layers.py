"""Specs with no named dimensions lower to exactly the TensorRT layers they did before dynamic shapes
(tests/trt/fixtures/static_layers.json, recorded by tests/trt/layer_lists.py from the commit before)."""

import json
import os

import pytest

from tests.trt.layer_lists import SPECS, layer_list

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "static_layers.json")
# random weights for 60M-150M parameters
SLOW = ("specs/zoo/vgg16.yaml", "specs/zoo/alexnet.yaml", "specs/zoo/gpt2.yaml", "specs/zoo/bert_base_uncased.yaml",
        "specs/zoo/clip_vit_b_32.yaml", "specs/zoo/rtdetr-x.yaml")


@pytest.mark.parametrize("path", [pytest.param(p, marks=pytest.mark.slow) if p in SLOW else p for p in SPECS])
def test_static_spec_lowers_to_the_recorded_layers(path):
    with open(FIXTURE) as stream:
        recorded = json.load(stream)
    assert layer_list(path) == recorded[path]


def test_every_shipped_spec_is_recorded():
    with open(FIXTURE) as stream:
        assert sorted(json.load(stream)) == sorted(SPECS)
