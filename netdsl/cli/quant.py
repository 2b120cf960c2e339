"""The quantization commands: `netdsl calibrate` and `netdsl scales import|export` (`netdsl diff` of two
scales files is in spec_tools, over :func:`netdsl.quant.scales.diff_scales`)."""

from __future__ import annotations

import sys

from .args import EXIT_INVALID, EXIT_OK, STDOUT, add_output, add_set, add_weights, image_size


def add_calibrate(add) -> None:
    calibrate = add("calibrate", cmd_calibrate, "activation ranges for a quantized spec, on the CPU",
                    "Run the spec's float network on the reference executor over calibration samples and write the "
                    "range (amax) of every tensor its quantized layers read, one per line, sorted: a scales file. "
                    "Methods: entropy (TensorRT's KL-divergence calibration), max, percentile, mse. The same data "
                    "gives the same file.")
    add_set(calibrate)
    calibrate.add_argument("spec", metavar="SPEC")
    calibrate.add_argument("--data", required=True, metavar="DIR", help="a folder of .npy/.npz samples or of images "
                           "(.jpg/.jpeg/.png/.bmp; file-name order), or one such file")
    calibrate.add_argument("--imgsz", metavar="H[,W]", type=image_size, help="images: the input's height and width "
                           "where they are dynamic (default: the first profile's opt)")
    calibrate.add_argument("--resize", default="letterbox", choices=["letterbox", "stretch"], help="images: keep the "
                           "aspect ratio and pad with gray 114, centered, as ultralytics does (default), or stretch")
    add_output(calibrate, "SCALES", "the scales file to write (required: calibrate never replaces the spec's own "
               "`quantization.scales` unasked; name it here to replace it)", stream=True)
    add_weights(calibrate)
    calibrate.add_argument("--method", default="entropy", help="entropy (default), max, percentile or mse")
    calibrate.add_argument("--percentile", type=float, default=99.99, help="for --method percentile (99.99)")
    calibrate.add_argument("--batch", type=int, help="samples per reference run (default: up to 32)")
    calibrate.add_argument("--limit", type=int, help="use the first N samples only")
    calibrate.add_argument("--all-tensors", action="store_true", help="every float tensor, not only those the "
                           "quantized layers read (for a full calibration cache)")
    calibrate.add_argument("--ray", metavar="auto|ADDRESS", help="shard the batches over tasks of a Ray cluster (the "
                           "data at the same path on every node); the same scales file, byte for byte; needs "
                           "`pip install 'netdsl[ray]'`")
    calibrate.add_argument("--shards", type=int, metavar="N", help="with --ray: tasks per pass (default: the "
                           "cluster's CPUs)")


def cmd_calibrate(args) -> int:
    from ..spec import load as load_spec
    from ..weights.bind import bind_weights
    from ..quant.calibrate import calibrate
    from ..quant.layer_order import spec_tensors

    checked = load_spec(args.spec, params=args.params)
    if not args.output:
        refuse_default_output(checked)
    tensors = None
    if args.all_tensors:
        tensors = [name for name in spec_tensors(checked) if checked.types[name].dtype == "float32"]
    if args.ray is not None:
        from ..fleet.calibrate import calibrate_ray

        scales = calibrate_ray(args.spec, args.data, args.ray, args.shards, args.params, args.weights, args.method,
                               args.percentile, args.batch, args.limit, tensors, args.imgsz, args.resize)
    else:
        if args.shards is not None:
            from ..diagnostics import UsageError

            raise UsageError("--shards is for --ray")
        scales = calibrate(checked, bind_weights(checked, args.weights), args.data, args.method, args.percentile,
                           args.batch, args.limit, tensors, imgsz=args.imgsz, resize=args.resize)
    write_scales_to(args.output, scales)
    print(f"wrote {args.output}: {len(scales.activations)} tensor range(s), {scales.meta['method']}, "
          f"{scales.meta['data']}", file=report_stream(args.output))
    return EXIT_OK


def refuse_default_output(checked) -> None:
    """calibrate without -o: a usage error naming the spec's own scales file, which a shipped spec's file
    (weights/lenet_int8.scales) would be, so that following a spec's comment never dirties a checkout."""
    from ..diagnostics import UsageError

    section = checked.graph.quantization
    own = f"; to replace the spec's own file, name it: -o {section.scales}" if section and section.scales else ""
    raise UsageError(f"give -o SCALES, the scales file to write{own}")


def write_scales_to(output: str, scales) -> None:
    """A scales file to ``output``, or to standard output for `-`."""
    from ..quant.scales import format_scales, write_scales

    if output == STDOUT:
        sys.stdout.write(format_scales(scales))
    else:
        write_scales(output, scales)


def report_stream(output: str):
    """Where "wrote ..." goes: standard error when the file itself went to standard output."""
    return sys.stderr if output == STDOUT else sys.stdout


def scales_output(checked, output: str | None) -> str:
    """-o, else the spec's `quantization.scales`."""
    if output:
        return output
    from ..diagnostics import UsageError

    section = checked.graph.quantization
    if section is None:
        raise UsageError(f"{checked.path} has no `quantization:` section; add one (`quantization: {{dtype: int8, "
                         "scales: FILE}`) to say which layers to quantize")
    if section.scales is None:
        raise UsageError("give -o FILE: the spec names no scales file (`quantization: {scales: FILE}`)")
    return section.scales


def add_scales(add) -> None:
    scales = add("scales", None, "import and export activation ranges",
                 "TensorRT calibration caches (calib.table) and quantization-aware training ranges.")
    commands = scales.add_subparsers(dest="scales_command", metavar="COMMAND", required=True)
    imported = commands.add_parser(
        "import", help="a calib.table or a QAT state dict (_amax buffers) to a scales file",
        description="Read a TensorRT calibration cache (calib.table: a TRT-... header, then `tensor: hex` lines) or a "
        "weight file holding pytorch-quantization/modelopt `_amax` buffers, map it to the spec's tensors, report "
        "every name that does not match, and write a scales file.")
    imported.set_defaults(handler=cmd_scales_import)
    imported.add_argument("spec", metavar="SPEC")
    add_set(imported)
    imported.add_argument("file", metavar="FILE", help="calib.table (any other name: read as a cache), or "
                          ".safetensors/.npz/.wts with _amax buffers")
    add_output(imported, "SCALES", "default: the spec's `quantization.scales`", stream=True)
    imported.add_argument("--strict", action="store_true", help="exit 1 when a quantized layer's input got no range")
    exported = commands.add_parser(
        "export", help="a scales file as a TensorRT calibration cache (calib.table)",
        description="Write a scales file as TensorRT's calibration cache: the header it was imported with (or "
        "--header), then `tensor: hex` per tensor, the hex being the float32 INT8 scale amax/127, in the spec's "
        "tensor order (--spec) or sorted.")
    exported.set_defaults(handler=cmd_scales_export)
    exported.add_argument("scales", metavar="SCALES")
    add_output(exported, "FILE", "the calibration cache to write", required=True, stream=True)
    exported.add_argument("--spec", metavar="SPEC", help="order the tensors as the spec's network does")
    exported.add_argument("--header", help="first line, e.g. TRT-100300-EntropyCalibration2 (TensorRT checks it)")


def cmd_scales_import(args) -> int:
    from ..build import load_spec
    from ..diagnostics import UsageError

    checked = load_spec(args.spec, params=args.params)
    output = scales_output(checked, args.output)
    if args.file.endswith((".safetensors", ".npz", ".wts")):
        from ..quant.qat import import_qat

        scales, report = import_qat(checked, args.file)
    else:
        from ..quant.calibtable import import_table

        scales, report = import_table(checked, args.file)
    for line in report.lines():
        print(line, file=sys.stderr)
    if not scales.activations and not scales.weights:
        raise UsageError(f"nothing in {args.file} matches {args.spec}; nothing written")
    write_scales_to(output, scales)
    print(f"wrote {output}: {len(scales.activations)} tensor range(s)"
          + (f", {len(scales.weights)} weight range(s)" if scales.weights else ""), file=report_stream(output))
    return EXIT_INVALID if report.missing and args.strict else EXIT_OK


def cmd_scales_export(args) -> int:
    from ..files import write_atomic
    from ..quant.calibtable import format_table
    from ..quant.scales import read_scales

    checked = None
    if args.spec:
        from ..build import load_spec

        checked = load_spec(args.spec, params=args.params)
    scales = read_scales(args.scales)
    if scales.weights:
        print(f"note: {len(scales.weights)} per-channel weight range(s) are not part of a calibration cache (TensorRT "
              "computes weight scales itself); left out", file=sys.stderr)
    table = format_table(scales, checked, args.header)
    if args.output == STDOUT:
        sys.stdout.write(table)
    else:
        write_atomic(args.output, table.encode())
    print(f"wrote {args.output}: {len(scales.activations)} tensor(s)", file=report_stream(args.output))
    return EXIT_OK


COMMANDS = {"calibrate": add_calibrate, "scales": add_scales}
