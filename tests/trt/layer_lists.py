"""The TensorRT layer list (name and type of every layer, in order) of each shipped spec, as netdsl
lowers it. `python tests/trt/layer_lists.py > tests/trt/fixtures/static_layers.json` records it (run
from a checkout of the commit to compare against); tests/trt/test_static_layers.py checks that the
lowering still gives exactly these lists."""

from __future__ import annotations

import glob
import json
import sys

SPECS = ["specs/lenet.yaml", *sorted(glob.glob("specs/zoo/*.yaml"))]


def layer_list(path: str, precision: str = "float32") -> list[str]:
    from netdsl.build import load_spec, network_for
    from netdsl.spec.buildopts import BuildOptions
    from tests.opcases import random_weights

    checked = load_spec(path)
    _, network, _ = network_for(checked, random_weights(checked), BuildOptions(precision=precision))
    return [f"{network.get_layer(i).name} {str(network.get_layer(i).type).rsplit('.', 1)[-1]}"
            for i in range(network.num_layers)]


if __name__ == "__main__":
    sys.path.insert(0, ".")
    json.dump({path: layer_list(path) for path in SPECS}, sys.stdout, indent=1)
    sys.stdout.write("\n")
