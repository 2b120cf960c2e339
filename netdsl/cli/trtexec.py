"""trtexec and Polygraphy habits on netdsl's command line.

People arrive with `trtexec --onnx=m.onnx --fp16 --saveEngine=m.plan --shapes=image:4x3x224x224` in their
fingers. Where such a flag maps onto a netdsl option it is accepted (`--fp16`, `--bf16`, `--saveEngine`,
`--shapes` and friends for the batch of a dynamic input, `--memPoolSize workspace:1G`,
`--timingCacheFile`, `--builderOptimizationLevel`, `--stripWeights`, `--hardwareCompatibilityLevel`,
`--versionCompatible`, `--excludeLeanRuntime`; Polygraphy's `--save-engine`, `--trt-*-shapes`,
`--pool-limit`); where it does not, the error names the netdsl way (:data:`FLAG_HINTS`).

    >>> parse_shapes("image:4x3x32x32,'mask':[4, 1, 32, 32]", "--shapes")
    {'image': (4, 3, 32, 32), 'mask': (4, 1, 32, 32)}
"""

from __future__ import annotations

import argparse
import re

from ..diagnostics import UsageError, did_you_mean

PRECISION_FLAGS = {"--fp16": "float16", "--bf16": "bfloat16"}
_QUANTIZED = ("netdsl has no implicit quantization: TensorRT 11 and TensorRT-RTX quantize explicitly, with "
              "quantize/dequantize layers in the network. Add a `quantization:` section to the spec (dtype int8 or "
              "fp8) and make its ranges with `netdsl calibrate SPEC --data DIR -o SCALES` (or `netdsl scales import` "
              "a calib.table); precisions are --precision float32|float16|bfloat16")
FLAG_HINTS = {  # flags of trtexec or Polygraphy that netdsl does not take -> what to write instead
    "--onnx": "netdsl builds from a YAML spec: `netdsl build SPEC` (the spec names its weights)",
    "--deploy": "netdsl builds from a YAML spec: `netdsl build SPEC`",
    "--model": "netdsl builds from a YAML spec: `netdsl build SPEC`",
    "--loadEngine": "to run a plan: `netdsl run ENGINE --input x.npy`; to time it: `netdsl bench ENGINE`",
    "--int8": _QUANTIZED, "--fp8": _QUANTIZED, "--int4": _QUANTIZED, "--fp4": _QUANTIZED, "--best": _QUANTIZED,
    "--calib": _QUANTIZED,
    "--tf32": "TF32 is TensorRT's choice for float32 layers; netdsl sets no TF32 flag",
    "--noTF32": "netdsl sets no TF32 flag",
    "--fp32": "float32 is the default (--precision float32)",
    "--stronglyTyped": "netdsl networks are always strongly typed",
    "--explicitBatch": "netdsl networks always have an explicit batch dimension",
    "--workspace": "--workspace SIZE, e.g. 1G or 1GiB (netdsl counts bytes; trtexec's old --workspace counted MiB)",
    "--batch": "--batch MIN,OPT,MAX for the inputs whose batch is -1",
    "--skipInference": "netdsl build never runs the engine",
    "--iterations": "to time an engine: `netdsl bench ENGINE --iterations N`",
    "--warmUp": "to time an engine: `netdsl bench ENGINE`", "--duration": "to time an engine: `netdsl bench ENGINE`",
    "--avgRuns": "to time an engine: `netdsl bench ENGINE`", "--useCudaGraph": "`netdsl bench ENGINE`",
    "--exportOutput": "to save outputs: `netdsl run ENGINE --input x.npy -o y.npz`",
    "--dumpOutput": "to see outputs: `netdsl run ENGINE --input x.npy`",
    "--loadInputs": "inputs are .npy/.npz files: `netdsl run ENGINE --input NAME=x.npy`",
    "--inputIOFormats": "inputs and outputs keep the spec's dtype (`dtype:` of each input)",
    "--outputIOFormats": "inputs and outputs keep the spec's dtype (`dtype:` of each input)",
    "--device": "netdsl runs on GPU 0 (CUDA_VISIBLE_DEVICES picks it)",
    "--saveEngine": "-o OUT", "--save-engine": "-o OUT",
    "--input-shapes": "--shapes NAME:NxCxHxW (the batch of a dynamic input)",
    "--verbose": "-v (TensorRT's log), -vv (verbose)",
    "--precision-constraints": "precision lives in the network: --precision float32|float16|bfloat16",
}
_SHAPE_ITEM = re.compile(r"\s*('[^']*'|\"[^\"]*\"|[^:,\s]+)\s*:\s*(\[[^\]]*\]|[0-9]+(?:\s*[x*]\s*[0-9]+)*)\s*(?:,|\Z)")


def add_build_flags(parser: argparse.ArgumentParser) -> None:
    """The trtexec and Polygraphy spellings `netdsl build` accepts, in a help group of their own."""
    group = parser.add_argument_group("trtexec and Polygraphy spellings", "accepted as they are written there; "
                                      "the i-th --minShapes/--optShapes/--maxShapes make profile i of a spec with "
                                      "named dimensions")
    add_precision_flags(group)
    group.add_argument("--onnx", action=OnnxModel, metavar="MODEL.onnx", help="netdsl builds from a spec: "
                       "`netdsl import MODEL.onnx -o SPEC.yaml` first")
    group.add_argument("--saveEngine", "--save-engine", dest="output", metavar="OUT", help="= -o OUT")
    for flag, dest, role in (("--shapes", "shapes", "the batch (min = opt = max unless given below)"),
                             ("--minShapes", "min_shapes", "the smallest batch"),
                             ("--optShapes", "opt_shapes", "the batch to optimize for"),
                             ("--maxShapes", "max_shapes", "the largest batch")):
        group.add_argument(flag, dest=dest, action="append", metavar="NAME:NxCxHxW", help=f"{role}; Polygraphy: "
                           f"--trt-{dest.split('_')[0]}-shapes NAME:[N,C,H,W]" if dest != "shapes" else role)
    for role in ("min", "opt", "max"):  # repeated, one profile each (as Polygraphy reads them)
        group.add_argument(f"--trt-{role}-shapes", dest=f"{role}_shapes", action="append", nargs="+",
                           help=argparse.SUPPRESS)
    group.add_argument("--memPoolSize", dest="mem_pool_size", action="append", metavar="workspace:SIZE",
                       help="= --workspace SIZE (a bare number is MiB, as in trtexec)")
    group.add_argument("--pool-limit", dest="pool_limit", action="append", metavar="workspace:SIZE",
                       help="= --workspace SIZE (a bare number is bytes, as in Polygraphy)")
    group.add_argument("--timingCacheFile", dest="timing_cache", metavar="FILE", help="= --timing-cache FILE")
    group.add_argument("--builderOptimizationLevel", dest="optimization_level", metavar="0-5",
                       help="= --optimization-level")
    group.add_argument("--stripWeights", dest="strip_weights", action="store_true", default=None,
                       help="= --strip-weights")
    group.add_argument("--hardwareCompatibilityLevel", dest="hardware_compatibility", metavar="LEVEL",
                       help="= --hardware-compatibility (none, ampere+, sameComputeCapability)")
    group.add_argument("--versionCompatible", "--vc", dest="version_compatible", action="store_true", default=None,
                       help="= --version-compatible")
    group.add_argument("--excludeLeanRuntime", dest="exclude_lean_runtime", action="store_true", default=None,
                       help="= --exclude-lean-runtime")


class OnnxModel(argparse.Action):
    """trtexec's --onnx=MODEL: stops at once (before argparse asks for SPEC) with the import to run first."""

    def __call__(self, parser, namespace, values, option_string=None):
        import os

        stem = os.path.splitext(os.path.basename(values))[0] or "model"
        parser.error(f"{option_string} {values}: an ONNX model: `netdsl import {values} -o {stem}.yaml` first, "
                     f"then `netdsl build {stem}.yaml` (the import writes the spec and its weights)")


def add_precision_flags(parser) -> None:
    for flag, precision in PRECISION_FLAGS.items():
        parser.add_argument(flag, dest="precision_flags", action="append_const", const=precision,
                            help=f"= --precision {precision}")


def precision_of(args) -> str | None:
    """--precision (any accepted spelling) and --fp16/--bf16, which must agree."""
    from ..spec.buildopts import canonical_precision

    chosen = {}
    if getattr(args, "precision", None) is not None:
        try:
            chosen[canonical_precision(args.precision)] = f"--precision {args.precision}"
        except ValueError as error:
            raise UsageError(str(error)) from None
    for precision in getattr(args, "precision_flags", None) or ():
        chosen.setdefault(precision, next(f for f, p in PRECISION_FLAGS.items() if p == precision))
    if len(chosen) > 1:
        raise UsageError("conflicting precisions: " + " and ".join(chosen.values()))
    return next(iter(chosen), None)


def workspace_of(args) -> str | int | None:
    """--workspace SIZE, or `workspace:SIZE` from --memPoolSize/--pool-limit."""
    sizes = [args.workspace] if getattr(args, "workspace", None) is not None else []
    if sizes and sizes[0].strip().isdigit() and int(sizes[0]) < 1 << 20:
        raise UsageError(f"--workspace {sizes[0]} would be {int(sizes[0]):,} bytes; trtexec's old --workspace "
                         f"counted MiB: write {sizes[0]}M (or a size with a unit: KiB, MiB, GiB)")
    # trtexec reads a bare number as MiB, Polygraphy as bytes; both spell units K, M, G as netdsl does.
    for flag, texts, bare_unit in (("--memPoolSize", getattr(args, "mem_pool_size", None), "M"),
                                   ("--pool-limit", getattr(args, "pool_limit", None), "")):
        for item in ",".join(texts or ()).split(",") if texts else ():
            pool, _, size = item.partition(":")
            if pool.strip().lower() != "workspace" or not size.strip():
                raise UsageError(f"{flag} `{item}`: netdsl sets the workspace pool only (workspace:SIZE, e.g. "
                                 "workspace:1G)")
            sizes.append(size.strip() + (bare_unit if size.strip().isdigit() else ""))
    if len(set(sizes)) > 1:
        raise UsageError("the workspace is given more than once: " + ", ".join(sizes))
    return sizes[0] if sizes else None


def parse_shapes(text: str, flag: str) -> dict[str, tuple[int, ...]]:
    """`NAME:4x3x32x32[,NAME:...]` (trtexec) or `NAME:[4,3,32,32]` (Polygraphy) -> {name: dims}."""
    shapes, position = {}, 0
    while position < len(text):
        match = _SHAPE_ITEM.match(text, position)
        if not match:
            raise UsageError(f"{flag} `{text}`: expected NAME:NxCxHxW (trtexec) or NAME:[N,C,H,W] (Polygraphy), "
                             "several separated by commas")
        name, dims = match.group(1).strip("'\""), match.group(2)
        shapes[name] = tuple(int(d) for d in re.split(r"[\[\],x*\s]+", dims) if d)
        position = match.end()
    return shapes


def batch_from_shapes(checked, args, notes: list[str]) -> tuple[int, int, int] | None:
    """The batch range --shapes/--minShapes/--optShapes/--maxShapes give, checked against the spec's
    inputs; None when none was given. netdsl varies only the batch of inputs whose shape starts with -1,
    and one range serves them all."""
    from ..ops import BATCH
    from ..symbolic import has_named_dims

    if any(has_named_dims(i.shape) for i in checked.graph.inputs):
        return None  # the shapes set named dimensions: profiles_from_flags
    given = {role: {} for role in ("shapes", "min", "opt", "max")}
    for role, dest in (("shapes", "shapes"), ("min", "min_shapes"), ("opt", "opt_shapes"), ("max", "max_shapes")):
        for text in getattr(args, dest, None) or ():
            given[role].update(parse_shapes(text if isinstance(text, str) else ",".join(text), f"--{dest}"))
    if not any(given.values()):
        return None
    if getattr(args, "batch", None):
        raise UsageError("give the batch range once: --batch MIN,OPT,MAX or --shapes/--minShapes/--optShapes/"
                         "--maxShapes, not both")
    inputs = {graph_input.name: graph_input for graph_input in checked.graph.inputs}
    batches = {role: set() for role in given}
    for role, shapes in given.items():
        for name, dims in shapes.items():
            graph_input = inputs.get(name)
            if graph_input is None:
                hint = did_you_mean(name, inputs) or f"the inputs are {', '.join(inputs)}"
                raise UsageError(f"--shapes names input `{name}`, which {checked.path} does not have; {hint}")
            batches[role].add(_batch_of(graph_input, dims, BATCH))
    for role, values in batches.items():
        if len(values) > 1:
            raise UsageError(f"the shapes give batches {sorted(values)}; netdsl builds one batch range for every "
                             "dynamic input")
    pick = {role: next(iter(values), None) for role, values in batches.items()}
    dynamic = [i for i in checked.graph.inputs if i.batch]
    if not dynamic:
        return None  # every named input is static and its shape matched
    spec_range = dict(zip(("min", "opt", "max"), dynamic[0].batch))
    if all(pick[role] is None for role in ("min", "opt", "max")):
        batch = (pick["shapes"],) * 3
        notes.append(f"--shapes fixes the batch at {pick['shapes']} (min = opt = max), as trtexec does; give "
                     "--minShapes/--maxShapes or --batch MIN,OPT,MAX for a range")
    else:
        fallback = {role: pick["shapes"] if pick["shapes"] is not None else spec_range[role] for role in spec_range}
        batch = tuple(pick[role] if pick[role] is not None else fallback[role] for role in ("min", "opt", "max"))
    if not batch[0] <= batch[1] <= batch[2]:
        raise UsageError(f"the shapes give batch min {batch[0]}, opt {batch[1]}, max {batch[2]}; they need "
                         "min <= opt <= max")
    return batch


PROFILE_ITEM = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(\d+)\s*:\s*(\d+)\s*:\s*(\d+)\s*\Z")


def profiles_from_flags(checked, args, notes: list[str]):
    """Optimization profiles from the command line for a spec with named dimensions, or None when none
    is given: each `--profile NAME=MIN:OPT:MAX[,NAME=...]`, or each i-th --minShapes/--optShapes/
    --maxShapes (Polygraphy: each repeated --trt-*-shapes), makes profile i; a dimension the flags leave
    out keeps the spec's range (its profile i, else its last). --shapes alone fixes every size."""
    from ..symbolic import Profile, has_named_dims

    graph = checked.graph
    if not any(has_named_dims(i.shape) for i in graph.inputs):
        return None
    texts = {role: list(getattr(args, dest, None) or ()) for role, dest in (
        ("shapes", "shapes"), ("min", "min_shapes"), ("opt", "opt_shapes"), ("max", "max_shapes"))}
    texts = {role: [t if isinstance(t, str) else ",".join(t) for t in items] for role, items in texts.items()}
    written = list(getattr(args, "profile", None) or ())
    if not written and not any(texts.values()):
        return None
    if getattr(args, "batch", None):
        raise UsageError(f"{checked.path} names its dynamic dimensions: give their ranges with --profile "
                         "NAME=MIN:OPT:MAX or --minShapes/--optShapes/--maxShapes, not --batch")
    if written and any(texts.values()):
        raise UsageError("give the profiles one way: --profile, or trtexec's --shapes/--minShapes/--optShapes/"
                         "--maxShapes")
    count = len(written) or max(len(texts["shapes"]), len(texts["min"]), len(texts["opt"]), len(texts["max"]))
    spec = graph.profiles
    profiles = []
    for index in range(count):
        base = spec[min(index, len(spec) - 1)]
        ranges = {name: list(r) for name, r in base.ranges.items()}
        if written:
            for item in written[index].split(","):
                match = PROFILE_ITEM.match(item)
                if not match or match.group(1) not in ranges:
                    raise UsageError(f"--profile `{item}`: expected NAME=MIN:OPT:MAX with NAME one of "
                                     f"{', '.join(sorted(ranges))}")
                ranges[match.group(1)] = [int(match.group(k)) for k in (2, 3, 4)]
        else:
            for role, slots in (("shapes", (0, 1, 2)), ("min", (0,)), ("opt", (1,)), ("max", (2,))):
                if index < len(texts[role]):
                    for name, size in named_sizes(checked, parse_shapes(texts[role][index], f"--{role}Shapes")):
                        for slot in slots:
                            ranges[name][slot] = size
        for name, (low, opt, high) in ranges.items():
            step = base.steps.get(name, 1)
            if not 1 <= low <= opt <= high or any(v % step for v in (low, opt, high)):
                rule = f", multiples of {step}" if step > 1 else ""
                raise UsageError(f"profile {index}: `{name}` min {low}, opt {opt}, max {high}; they need 1 <= min <= "
                                 f"opt <= max{rule}")
        profiles.append(Profile(index, {n: tuple(r) for n, r in ranges.items()}, base.steps))
    return profiles


def named_sizes(checked, shapes: dict):
    """(dim name, size) for every dynamic dimension of the inputs ``shapes`` gives; static ones must match."""
    from ..ops import show_shape

    inputs = {graph_input.name: graph_input for graph_input in checked.graph.inputs}
    seen = {}
    for name, dims in shapes.items():
        graph_input = inputs.get(name)
        if graph_input is None:
            hint = did_you_mean(name, inputs) or f"the inputs are {', '.join(inputs)}"
            raise UsageError(f"--shapes names input `{name}`, which {checked.path} does not have; {hint}")
        if len(dims) != len(graph_input.shape):
            raise UsageError(f"--shapes gives {name} {len(dims)} dimensions, {show_shape(dims)}; input `{name}` is "
                             f"{show_shape(graph_input.shape)}")
        for given, declared in zip(dims, graph_input.shape):
            if isinstance(declared, int):
                if given != declared:
                    raise UsageError(f"--shapes gives {name} {show_shape(dims)}, but input `{name}` is "
                                     f"{show_shape(graph_input.shape)}: only its named dimensions can vary")
                continue
            if seen.setdefault(declared.name, given) != given:
                raise UsageError(f"--shapes gives dimension `{declared}` the sizes {seen[declared.name]} and {given}; "
                                 "inputs that share it need one size")
            yield declared.name, given


def _batch_of(graph_input, dims: tuple, batch_dim) -> int:
    from ..ops import show_shape

    spec_shape = ["-1" if d is batch_dim else str(d) for d in graph_input.shape]
    shown = f"input `{graph_input.name}` is [{', '.join(spec_shape)}]"
    if len(dims) != len(graph_input.shape):
        raise UsageError(f"--shapes gives {graph_input.name} {len(dims)} dimensions, {show_shape(dims)}; {shown}")
    for axis, (given, declared) in enumerate(zip(dims, graph_input.shape)):
        if axis == 0 and declared is batch_dim:
            if given < 1:
                raise UsageError(f"--shapes: the batch of `{graph_input.name}` must be at least 1")
            continue
        if given != declared:
            what = ("its batch is fixed; write -1 as the first dimension of `shape` and add `batch: {min, opt, "
                    "max}` to make it dynamic" if axis == 0 else
                    "netdsl varies only the batch (the first dimension, -1 in the spec); other sizes are fixed "
                    "by the spec: change its `shape`")
            raise UsageError(f"--shapes gives {graph_input.name} {show_shape(dims)}, but {shown}: dimension "
                             f"{axis} is {declared}, not {given}; {what}")
    return dims[0]


def unknown_arguments(parser: argparse.ArgumentParser, extra: list[str]) -> str:
    """The message for arguments ``parser`` (a subcommand's) does not know, with the netdsl spelling of
    each flag that trtexec or Polygraphy users would type, or the closest option."""
    known = [option for action in parser._actions for option in action.option_strings]
    lines = []
    for token in extra:
        flag = token.split("=", 1)[0]
        if not flag.startswith("-"):
            continue
        hint = FLAG_HINTS.get(flag) or next((h for f, h in FLAG_HINTS.items() if f.lower() == flag.lower()), None)
        if hint and flag in known:
            hint = None
        suggestion = hint or did_you_mean(flag, known)
        if suggestion:
            lines.append(f"  {flag}: {suggestion}")
    return "unrecognized arguments: " + " ".join(extra) + "".join("\n" + line for line in lines)
