"""A checked spec and its bound weights as a TensorRT network definition, with the build options that
shape it: what `netdsl build` lowers before it builds, and what `netdsl inspect` reads back without
building.
"""

from __future__ import annotations

from ..diagnostics import UsageError
from ..ops import BATCH
from ..spec.buildopts import BuildOptions, check_option
from . import backend, make_logger


def options_for(checked, **overrides) -> BuildOptions:
    """The spec's `build:` options with ``overrides`` (command-line values, strings allowed) on top,
    every value checked before anything is lowered."""
    options = checked.graph.build or BuildOptions()
    checked_overrides = {}
    for key, value in overrides.items():
        if value is None:
            continue
        try:
            checked_overrides[key] = check_option(key, value)
        except ValueError as error:
            raise UsageError(str(error)) from None
    try:
        options = options.merged(checked_overrides).resolved()
    except ValueError as error:
        raise UsageError(str(error)) from None
    if options.batch is not None and not any(i.batch for i in checked.graph.inputs):
        raise UsageError(f"--batch given, but no input of {checked.path} has a dynamic batch (-1)")
    if options.profiles or options.batch:  # sizes the spec's ranges did not allow: every shape checked again
        from ..diagnostics import Diagnostics, SpecError
        from ..shapes import infer_shapes

        diagnostics = Diagnostics()
        infer_shapes(checked.graph, diagnostics, profiles_of(checked, options))
        if diagnostics.has_errors:
            raise SpecError(diagnostics)
    return options


def profiles_of(checked, options: BuildOptions) -> list:
    """The optimization profiles a build makes: the command line's (``options.profiles``) or the spec's,
    the -1 batch's range from ``options.batch`` when given."""
    profiles = options.profiles or checked.graph.profiles
    if options.batch is not None:
        profiles = [p._replace(ranges={**p.ranges, BATCH.name: options.batch}) for p in profiles]
    return profiles


def network_for(checked, bound: dict, options: BuildOptions | None = None, builder=None, quantizer="spec",
                every_tensor: bool = False):
    """(builder, network, lowering context) for the spec; the context keeps the weight arrays alive.
    ``quantizer``: "spec" (the spec's `quantization:` section with its scales file, if it has one),
    None (no quantization) or a :class:`netdsl.quant.Quantizer`; ``every_tensor``: as for
    :func:`netdsl.trt.lowering.lower`."""
    from .lowering import lower

    trt = backend().trt
    if builder is None:
        builder = trt.Builder(make_logger(trt))
    if quantizer == "spec":
        quantizer = None
        if checked.graph.quantization is not None:
            from ..quant import quantizer_for

            quantizer = quantizer_for(checked)
    if checked.graph.plugins or any(node.kind == "plugin" for node in checked.graph.nodes):
        from ..ops.plugin import prepare_plugins

        if hasattr(trt, "init_libnvinfer_plugins"):  # NVIDIA's standard plugins (EfficientNMS_TRT...) where shipped
            trt.init_libnvinfer_plugins(make_logger(trt), "")
        prepare_plugins(trt, checked)  # the spec's libraries loaded, every creator found, before lowering
    options = options or BuildOptions()
    network, ctx = lower(checked, bound, builder, options.precision, quantizer, profiles_of(checked, options),
                         every_tensor)
    return builder, network, ctx
