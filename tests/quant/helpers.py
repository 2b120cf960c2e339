"""Small quantized specs for the tests."""

from netdsl.quant import Quantizer, placement
from netdsl.quant.scales import Scales
from netdsl.spec import check_text


def quantized_spec(layers: str, inputs: str = "  - {name: x, shape: [2, 3, 9, 9]}", dtype: str = "int8",
                   extra: str = ""):
    text = (f"netdsl: 1\nquantization: {{dtype: {dtype}{extra}}}\ninputs:\n{inputs}\nlayers:\n{layers}\n")
    checked, diagnostics = check_text(text, "<test>")
    assert checked is not None, [str(d) for d in diagnostics]
    return checked


def quantizer(checked, amax: dict) -> Quantizer:
    return Quantizer(placement(checked), Scales(dict(amax)))
