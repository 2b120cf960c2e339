"""The `netdsl` command: a thin layer over the Python API.

Exit codes mean one thing each: 0 success, 1 the input is invalid (or differences were found),
2 usage or environment problems, 3 a bug in netdsl, 4 this machine cannot run engines (no GPU, no
cuda-python, or no TensorRT that runs on its GPU).
"""

from __future__ import annotations

import argparse
import os
import sys

from . import __version__
from .diagnostics import InternalError, NetdslError, SpecError

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_BUG, EXIT_CANNOT_RUN = 0, 1, 2, 3, 4

DESCRIPTION = """\
Declarative TensorRT networks: a YAML spec in, checked before TensorRT is touched.

commands:
  build SPEC [-o OUT]
                     compile the spec and its weights into a TensorRT engine plan, with a JSON manifest
  reference SPEC --input X [-o Y]
                     run the spec on numpy (the reference executor) with its weights
  validate SPEC...   check specs: schema, names, shapes (and --weights W); every problem with file:line:col
  summary SPEC       table of layers: output shapes, parameters, multiply-accumulates
  inspect SPEC       the TensorRT layers the spec lowers to: types, tensors, parameters, weights (no GPU)
  compare SPEC       per-layer errors of TensorRT against the reference executor (the engine on a GPU,
                     else the TensorRT-semantics evaluator)
  detect SPEC IMAGE...
                     a detector spec on pictures (reference executor, no GPU): detections, --draw OUT
  diff OLD NEW       what a change means: layers, parameters, shapes, costs, can engines be refit
                     (two scales files: the ranges that changed)
  calibrate SPEC --data DIR [-o SCALES]
                     activation ranges for the spec's `quantization:` on the CPU (reference executor)
  scales import SPEC FILE | export SCALES -o calib.table
                     TensorRT calibration caches and quantization-aware training `_amax` in and out
  graph SPEC -o F    picture of the network (.dot, .svg, .png)
  fmt SPEC... [--check]
                     canonical formatting (key order, one line per layer, comments kept)
  weights ls FILE    names, dtypes, shapes and bytes in a weight file (.safetensors, .wts, .npz)
  weights convert IN OUT
                     convert between .safetensors, .wts and .npz (float32 exactly)
  export SPEC -o model.onnx
                     the network and its weights as ONNX (Netron, ONNX Runtime, trtexec); needs onnx
  import MODEL -o SPEC
                     an ONNX model (or a PyTorch module: --torch) as a readable spec and its weights
  schema             JSON Schema of the spec language, for editors (yaml-language-server)
  docs [-o FILE]     reference page of every layer kind (docs/layers.md), from the registry
  completion bash|zsh
                     shell completion script: source <(netdsl completion bash)

  refit ENGINE --weights NEW [--check] [-o OUT]
                     new weights into a refittable engine, no rebuild (--check: prove they fit, no GPU;
                     also against any build's manifest, or a SPEC)

engines (need a GPU):
  run ENGINE --input X [-o Y]   execute a plan on inputs
  bench ENGINE [--batch N]      latency p50/p99 and throughput (named dims: --dim NAME=SIZE, --profile I)
  verify SPEC [--engine E]      engine outputs against the reference executor, with tolerances

exit codes: 0 ok, 1 the input is invalid (verify: outputs differ), 2 usage or environment error,
  3 bug in netdsl, 4 this machine cannot run engines
"""


def cmd_validate(args) -> int:
    from .render import print_diagnostics
    from .spec import check

    if args.weights and len(args.specs) != 1:
        from .diagnostics import UsageError

        raise UsageError("--weights checks one spec at a time")
    records, failed = [], 0
    for path in args.specs:
        weights = args.weights
        if weights:
            from .weights.bind import check_with_weights

            result = check_with_weights(path, None if weights is SPEC_DEFAULT else weights, args.strict)
            checked, diagnostics, weights = result.spec, result.diagnostics, result.weights_path
        else:
            checked, diagnostics = check(path)
        failed += checked is None
        if args.format == "json":
            records.append({"file": path, "valid": checked is not None,
                            "diagnostics": [d.to_json() for d in diagnostics]})
        else:
            print_diagnostics(diagnostics)
            if checked is not None:
                layers = len(checked.graph.nodes)
                bound = f", weights {weights} bound" if weights else ""
                print(f"{path}: valid ({layers} layer{'s' if layers != 1 else ''}{bound})")
    if args.format == "json":
        print_json(records if len(records) > 1 else records[0])
    return EXIT_INVALID if failed else EXIT_OK


SPEC_DEFAULT = "(the spec's weights file)"


def print_json(data) -> None:
    import json  # only where JSON is asked for: start-up counts for `netdsl validate`

    json.dump(data, sys.stdout, indent=2)
    sys.stdout.write("\n")


def cmd_weights_ls(args) -> int:
    from .weights import read_weights
    from .weights.convert import format_listing, listing

    rows = listing(read_weights(args.file))
    if args.format == "json":
        print_json({"file": args.file, "tensors": rows})
    else:
        print(format_listing(rows))
    return EXIT_OK


def cmd_weights_convert(args) -> int:
    from .weights.convert import convert

    for note in convert(args.input, args.output):
        print(f"note: {note}", file=sys.stderr)
    print(f"wrote {args.output}")
    return EXIT_OK


def cmd_build(args) -> int:
    from . import build
    from .trt import backend
    from .trt.network import options_for

    if args.verbose:
        import logging

        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        logger = logging.getLogger("netdsl")
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG if args.verbose > 1 else logging.INFO)
    checked, bound, weights_path, warnings = checked_for_build(args)
    notes: list[str] = []
    options = options_for(checked, **build_overrides(args, checked, notes))
    progress = None
    if sys.stderr.isatty() and not args.verbose and args.format == "text":
        from .trt.progress import make_progress

        progress = make_progress(backend().trt)
    quantizer = "spec"
    if args.scales:
        from .quant import quantizer_for

        if checked.graph.quantization is None:
            from .diagnostics import UsageError

            raise UsageError(f"--scales given, but {args.spec} has no `quantization:` section")
        quantizer = quantizer_for(checked, args.scales)
    plan = build.build_plan(checked, bound, options, progress, weights_path, quantizer)
    if args.random_weights:
        from .weights.synthetic import KIND

        plan.random_weights = {"seed": args.seed, "values": KIND,
                               "warning": "random weights: this engine checks the build and times it; it computes "
                               "nothing meaningful"}
    output = args.output or build.default_output(args.spec)
    record = build.save(plan, output)
    notes += plan.notes
    if args.format == "json":
        print_json({"plan": output, "manifest": build.manifest_path(output), "bytes": plan.data.nbytes,
                   "build_seconds": round(plan.build_seconds, 3), "tensorrt": record["tensorrt"],
                   "precision": record["precision"], "workspace": record["workspace"], "refit": record["refit"],
                   "inputs": record["inputs"],
                   "outputs": record["outputs"], "weights": record["weights"],
                   "random_weights": record.get("random_weights"), "quantization": record.get("quantization"),
                   "notes": notes,
                   "diagnostics": [d.to_json() for d in warnings]})
        return EXIT_OK
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    marked = f", RANDOM WEIGHTS (seed {args.seed}): not a real model" if plan.random_weights else ""
    if plan.quantization:
        marked = f", {plan.quantization['dtype']} in {len(plan.quantization['layers'])} layers" + marked
    print(f"wrote {output} ({plan.data.nbytes:,} bytes; {record['tensorrt']['flavour']} {record['tensorrt']['version']}, "
          f"{plan.options.precision}{marked}) and {build.manifest_path(output)}")
    return EXIT_OK


def checked_for_build(args):
    """(checked spec, bound weights, weights path, warnings) for `build`: the spec's and the weights'
    problems in one report, or seeded random weights with --random-weights. Text warnings are printed
    here; JSON output carries them."""
    from .render import print_diagnostics

    if args.random_weights:
        from .spec import load
        from .weights.synthetic import random_weights

        if args.weights:
            from .diagnostics import UsageError

            raise UsageError("--random-weights builds without a weight file; drop --weights or --random-weights")
        checked = load(args.spec)
        return checked, random_weights(checked, args.seed), None, []
    from .weights.bind import check_with_weights

    result = check_with_weights(args.spec, args.weights, args.strict)
    if result.spec is None:
        raise SpecError(result.diagnostics)
    if result.diagnostics and args.format == "text":
        print_diagnostics(result.diagnostics)
    return result.spec, result.weights, result.weights_path if result.weights else None, list(result.diagnostics)


def build_overrides(args, checked, notes: list[str]) -> dict:
    """Build options from the command line, trtexec and Polygraphy spellings included."""
    from . import trtexec

    return {"precision": trtexec.precision_of(args), "workspace": trtexec.workspace_of(args), "refit": args.refit,
            "targets": args.target, "timing_cache": args.timing_cache,
            "optimization_level": args.optimization_level,
            "batch": trtexec.batch_from_shapes(checked, args, notes) or args.batch,
            "profiles": trtexec.profiles_from_flags(checked, args, notes)}


def emit_outputs(path, outputs) -> int:
    from . import arrays

    if path:
        arrays.write_outputs(path, outputs)
        print(f"wrote {path}")
    else:
        print(arrays.describe_outputs(outputs))
    return EXIT_OK


def need_onnx(command: str) -> None:
    """A clean exit 2 when the optional onnx package is missing."""
    try:
        import onnx  # noqa: F401
    except ImportError:
        from .diagnostics import UsageError

        raise UsageError(f"netdsl {command} needs the onnx package: pip install 'netdsl[onnx]' (or pip install onnx)") \
            from None


def cmd_export(args) -> int:
    need_onnx("export")
    from .onnx.export import export

    if args.random_weights and args.weights:
        from .diagnostics import UsageError

        raise UsageError("--random-weights exports without a weight file; drop --weights or --random-weights")
    written = export(args.spec, args.output, args.weights, args.seed if args.random_weights else None)
    if args.format == "json":
        print_json(written)
    else:
        marked = ", RANDOM WEIGHTS" if args.random_weights else ""
        print(f"wrote {written['path']} ({written['bytes']:,} bytes; {written['nodes']} nodes, "
              f"{written['initializers']} initializers, opset {written['opset']}{marked})")
    return EXIT_OK


def cmd_import(args) -> int:
    from .diagnostics import UsageError

    batch = None
    if args.batch:
        try:
            batch = tuple(int(v) for v in args.batch.split(","))
        except ValueError:
            batch = ()
        if len(batch) != 3 or not 1 <= batch[0] <= batch[1] <= batch[2]:
            raise UsageError(f"--batch takes MIN,OPT,MAX with 1 <= MIN <= OPT <= MAX, found {args.batch!r}")
    if not args.output.endswith((".yaml", ".yml")):
        raise UsageError(f"-o names the spec to write (.yaml), found {args.output!r}")
    sizes = None
    if args.dim and args.torch:
        raise UsageError("--dim ranges the dynamic dimensions of an ONNX file; --torch traces at the --shape given")
    if args.dim:
        from .onnx.dims import parse

        try:
            sizes = parse(args.dim, batch)
        except ValueError as error:
            raise UsageError(str(error)) from None
    if args.torch:
        from .torch_import import import_torch_cli

        imported = import_torch_cli(args.model, args.output, args.shape, batch)
    else:
        need_onnx("import")
        from .onnx.importer import import_onnx

        imported = import_onnx(args.model, args.output, args.partial, batch, sizes)
    for problem in imported.problems:
        print(f"left out: {problem}", file=sys.stderr)
    stem = args.output.rsplit(".", 1)[0]
    weights = f" and {stem}.safetensors ({len(imported.weights)} tensors)" if imported.weights else ""
    partial = f"; PARTIAL: {len(imported.problems)} thing(s) left out" if imported.problems else ""
    print(f"wrote {args.output} ({imported.layers} layers, {imported.blocks} blocks){weights}{partial}")
    return EXIT_OK


def cmd_reference(args) -> int:
    from . import arrays, reference
    from .build import load_spec
    from .weights.bind import bind_weights

    checked = load_spec(args.spec)
    bound = bind_weights(checked, args.weights, args.strict)
    inputs = arrays.read_inputs(args.input, [i.name for i in checked.graph.inputs])
    quantizer = None
    if checked.graph.quantization is not None and not args.float:
        from .quant import quantizer_for

        quantizer = quantizer_for(checked, args.scales)
    outputs = reference.run(checked, bound, inputs, quantizer=quantizer)
    return emit_outputs(args.output, outputs)


def cmd_calibrate(args) -> int:
    from .quant.commands import cmd_calibrate as run

    return run(args)


def cmd_scales_import(args) -> int:
    from .quant.commands import cmd_scales_import as run

    return run(args)


def cmd_scales_export(args) -> int:
    from .quant.commands import cmd_scales_export as run

    return run(args)


def cmd_run(args) -> int:
    from . import arrays
    from .runtime import Engine, declared_inputs

    engine = Engine.open(args.engine)
    inputs = arrays.read_inputs(args.input, [d.name for d in declared_inputs(engine.manifest)])
    engine.check(inputs)  # before any GPU is needed
    with engine:
        outputs = engine.run(inputs)
    return emit_outputs(args.output, outputs)


def cmd_bench(args) -> int:
    from .runtime import Engine, bench_inputs

    engine = Engine.open(args.engine)
    inputs = bench_inputs(engine.manifest, args.batch, args.profile, dict(parse_dim_size(d) for d in args.dim or ()))
    with engine:
        result = engine.bench(inputs, args.iterations)
    if args.format == "json":
        print_json(result)
    else:
        named = "".join(f", {name} {size}" for name, size in result["sizes"].items())
        profile = f", profile {result['profile']}" if result["profile"] is not None else ""
        print(f"batch {result['batch']}{named}{profile}, {result['iterations']} runs: p50 {result['p50_ms']:.3f} ms, "
              f"p99 {result['p99_ms']:.3f} ms, {result['throughput']:,.0f} samples/s")
    return EXIT_OK


def parse_dim_size(text: str) -> tuple[str, int]:
    """`--dim height=480` -> ("height", 480)."""
    from .diagnostics import UsageError

    name, _, size = text.partition("=")
    if not name or not size.isdigit() or int(size) < 1:
        raise UsageError(f"--dim takes NAME=SIZE (e.g. height=480), found {text!r}")
    return name, int(size)


def cmd_verify(args) -> int:
    from . import arrays, reference, runtime
    from .build import build_plan, load_spec, manifest
    from .trt.network import options_for
    from .weights.bind import bind_weights

    checked = load_spec(args.spec)
    weights = checked.weights_file(args.weights)
    bound = bind_weights(checked, weights)
    if args.engine:
        engine = runtime.Engine.open(args.engine)
        runtime.check_engine_matches(engine.manifest, args.spec, weights)
    # the engine's inputs when given (it may have been built for other profiles than the spec's)
    declared = runtime.declared_inputs(engine.manifest) if args.engine else reference.declared(checked)
    inputs = (arrays.read_inputs(args.input, [d.name for d in declared]) if args.input
              else runtime.sample_inputs(declared))
    if args.engine:
        engine.check(inputs)  # before any GPU is needed
    expected = reference.run(checked, bound, inputs)  # the reference at the same sizes as the engine
    runtime.require_gpu(runtime.cuda_runtime())  # before a build that could not be run
    if not args.engine:
        from .trtexec import precision_of

        plan = build_plan(checked, bound, options_for(checked, precision=precision_of(args)), weights_path=weights)
        engine = runtime.Engine(manifest(plan, "(in memory)"), plan.data)
    with engine:
        got = engine.run(inputs)
    rows = runtime.compare(expected, got, engine.manifest["precision"])
    for row in rows:
        print(f"{row['output']}: max abs error {row['max_abs']:.3g}, max rel error {row['max_rel']:.3g} "
              f"(tolerance {row['atol']:g} + {row['rtol']:g}*|ref|): {'pass' if row['pass'] else 'FAIL'}")
    return EXIT_OK if all(row["pass"] for row in rows) else EXIT_INVALID


def cmd_inspect(args) -> int:
    from .trt import inspect

    if args.spec.endswith((".plan", ".engine", ".trt")):
        info = inspect.inspect_plan(args.spec)
    else:
        info = inspect.inspect_spec(args.spec, args.weights, args.precision)
    only = set(args.layer) if args.layer else None
    if only is not None:
        known = {layer.spec_layer for layer in info.layers} | {layer.name for layer in info.layers}
        missing = sorted(only - known)
        if missing:
            from .diagnostics import UsageError

            raise UsageError(f"no layer named {', '.join(f'`{m}`' for m in missing)} in {args.spec}")
        only |= {layer.spec_layer for layer in info.layers if layer.name in only}
    if args.format == "json":
        record = info.to_json()
        if only is not None:
            record["layers"] = [layer for layer in record["layers"] if layer["spec_layer"] in only]
        print_json(record)
    else:
        print(inspect.render(info, only))
    return EXIT_OK


def cmd_detect(args) -> int:
    from . import detect
    from .build import load_spec

    if args.draw and len(args.images) > 1 and not os.path.isdir(args.draw):
        from .diagnostics import UsageError

        raise UsageError(f"--draw {args.draw}: with several images, name an existing folder")
    checked = load_spec(args.spec)
    bound = weights_or_random(args, checked)
    thresholds = detect.Thresholds(args.conf, args.iou, args.max_det)
    results = detect.detect(checked, bound, args.images, thresholds, parse_imgsz(args.imgsz), args.names)
    if args.format == "json":
        print_json([{"image": path, "detections": [{"class": d.klass, "name": d.name, "score": round(d.score, 5),
                                                    "box": [round(v, 2) for v in d.box]} for d in found]}
                    for path, found in results])
    else:
        if args.random_weights:
            print(f"RANDOM WEIGHTS (seed {args.seed}): detections mean nothing")
        for path, found in results:
            print(f"{path}: {len(found)} detection{'s' if len(found) != 1 else ''}")
            for d in found:
                print(f"  {d.name:<16} {d.score:.3f}  [{d.box[0]:.1f}, {d.box[1]:.1f}, {d.box[2]:.1f}, {d.box[3]:.1f}]")
    for path, found in results if args.draw else ():
        output = args.draw if len(results) == 1 and not os.path.isdir(args.draw) else os.path.join(
            args.draw, os.path.splitext(os.path.basename(path))[0] + ".png")
        detect.draw(path, found, output)
        if args.format != "json":
            print(f"wrote {output}")
    return EXIT_OK


def weights_or_random(args, checked) -> dict:
    """The spec's weights bound (`--weights` or its own file), or with `--random-weights` seeded ones."""
    if args.random_weights and args.weights:
        from .diagnostics import UsageError

        raise UsageError("--random-weights runs without a weight file; drop --weights or --random-weights")
    if args.random_weights:
        from .weights.synthetic import random_weights

        return random_weights(checked, args.seed)
    from .weights.bind import bind_weights

    return bind_weights(checked, args.weights)


def parse_imgsz(text):
    if text is None:
        return None
    from .diagnostics import UsageError

    try:
        sizes = [int(v) for v in text.replace("x", ",").split(",")]
    except ValueError:
        sizes = []
    if len(sizes) not in (1, 2) or min(sizes) < 1:
        raise UsageError(f"--imgsz takes SIZE or HEIGHT,WIDTH, found {text!r}")
    return (sizes[0], sizes[-1])


def cmd_compare(args) -> int:
    from . import arrays, compare, reference, runtime
    from .build import load_spec

    checked = load_spec(args.spec)
    bound = weights_or_random(args, checked)
    declared = reference.declared(checked)
    inputs = (arrays.read_inputs(args.input, [d.name for d in declared]) if args.input
              else runtime.sample_inputs(declared))
    use_engine = False
    if not args.evaluator:
        try:
            runtime.require_gpu(runtime.cuda_runtime())
            use_engine = True
        except runtime.CannotRun as reason:
            print(f"note: {reason}; comparing the TensorRT-semantics evaluator instead of an engine", file=sys.stderr)
    from .trtexec import precision_of

    precision = precision_of(args) or (checked.graph.build.precision if checked.graph.build else None) or "float32"
    result = compare.compare(checked, bound, inputs, precision, args.layer, use_engine)
    if args.format == "json":
        print_json(result.to_json())
    else:
        print(compare.render(result))
    return EXIT_OK if result.first_failure is None else EXIT_INVALID


def cmd_refit(args) -> int:
    from . import refit

    if args.engine.endswith((".yaml", ".yml")):
        if not args.check:
            from .diagnostics import UsageError

            raise UsageError(f"{args.engine} is a spec: refit needs an engine; with a spec, --check tells whether "
                             "the weights fit the engines built from it")
        prepared = refit.prepare_spec(args.engine, args.weights, args.precision, args.strict)
    else:
        if args.precision:
            from .diagnostics import UsageError

            raise UsageError("--precision is for a SPEC; an engine's precision is in its manifest")
        prepared = refit.prepare(args.engine, args.weights, args.spec, args.strict, check_only=args.check)
    if prepared.warnings:
        from .render import print_diagnostics

        print_diagnostics(prepared.warnings)
    problems = refit.check(prepared)
    if problems:
        raise refit.RefitError(problems)
    changed_profiles = refit.profile_changes(prepared)
    if changed_profiles:
        print(f"note: {prepared.plan_path} was built for other optimization profiles than {prepared.spec_path} gives "
              "now (engine -> spec):\n" + "".join(f"  {change}\n" for change in changed_profiles) +
              "A refit keeps the engine's ranges; serving the new ones needs a rebuild. The weights fit either way.",
              file=sys.stderr)
    elif prepared.spec_changed:
        print("note: the spec changed since the build, but not in its weights (names, shapes, dtypes)", file=sys.stderr)
    count = len(prepared.arrays)
    if args.check:
        print(f"{args.weights} fits {refit.speaks_for(prepared)}.\nChecked here: names, dtypes and shapes (no GPU "
              "needed); TensorRT's Refitter did not run.")
        return EXIT_OK
    record = refit.refit(args.engine, args.weights, args.output, args.spec, args.strict)
    print(f"refitted {count} weights; wrote {args.output or args.engine} ({record['plan']['bytes']:,} bytes) and its "
          "manifest")
    return EXIT_OK


def cmd_diff(args) -> int:
    from . import diff
    from .render import Painter, use_color

    if args.old.endswith(".scales") or args.new.endswith(".scales"):
        from .quant.commands import diff_scales

        text, differ = diff_scales(args.old, args.new)
        print(text)
        return EXIT_INVALID if differ else EXIT_OK

    result = diff.compare(diff.load_side(args.old), diff.load_side(args.new), args.old, args.new)
    if args.format == "json":
        print_json(result.to_json())
    else:
        print(diff.format_text(result, Painter(use_color(sys.stdout))))
    return EXIT_OK if result.identical else EXIT_INVALID


def cmd_fmt(args) -> int:
    from .files import write_atomic
    from .fmt import format_text
    from .yamlnodes import read_source
    from .diagnostics import Diagnostics

    changed = 0
    for path in args.specs:
        diagnostics = Diagnostics()
        source = read_source(path, diagnostics)
        if source is None:
            raise SpecError(diagnostics)
        formatted = format_text(source.text, path)
        if formatted == source.text:
            continue
        changed += 1
        if args.check:
            print(f"{path}: would be reformatted")
        else:
            write_atomic(path, formatted.encode("utf-8"))
            print(f"{path}: reformatted")
    if args.check:
        return EXIT_INVALID if changed else EXIT_OK
    return EXIT_OK


def cmd_graph(args) -> int:
    from .graph_picture import render
    from .spec import load

    render(load(args.spec), args.output)
    print(f"wrote {args.output}")
    return EXIT_OK


def cmd_summary(args) -> int:
    from . import summary
    from .spec import check, load

    if args.textconv:  # for git: always some text, the file itself when it is not a valid spec
        checked, diagnostics = check(args.spec)
        if checked is None:
            with open(args.spec, encoding="utf-8", errors="replace") as stream:
                sys.stdout.write(stream.read())
            print("\n# netdsl: not a valid spec:\n" + "\n".join(f"#   {d.code}: {d.message}" for d in diagnostics))
            return EXIT_OK
    checked = load(args.spec)
    if args.format == "json":
        print_json(summary.to_json(checked))
    else:
        print(summary.format_table(checked))
    return EXIT_OK


def cmd_schema(args) -> int:
    import json

    from .schema import build_schema

    text = json.dumps(build_schema(), indent=2) + "\n"
    if args.output:
        from .files import write_atomic

        write_atomic(args.output, text.encode())
    else:
        sys.stdout.write(text)
    return EXIT_OK


SPEC_COMMANDS = frozenset(("build", "export", "reference", "calibrate", "refit", "verify", "inspect", "compare",
                           "validate", "summary", "diff", "graph", "detect"))


def add_set(command) -> None:
    command.add_argument("--set", action="append", metavar="NAME=VALUE",
                         help="a value for one of the spec's `params:` (e.g. --set scale=s); repeat for several")


def apply_sets(args) -> None:
    """`--set NAME=VALUE`: the values every spec read by this command gets for its `params:`."""
    if not getattr(args, "set", None):
        return
    from .spec import use_params
    from .spec.specparams import parse_override

    values = {}
    for text in args.set:
        try:
            name, value = parse_override(text)
        except ValueError as error:
            from .diagnostics import UsageError

            raise UsageError(f"--set {error}") from None
        values[name] = value
    use_params(values)


def add_weights(command, strict: bool = True, random: str | None = None) -> None:
    """--weights, and --strict; with ``random`` (its help), --random-weights and --seed too."""
    command.add_argument("--weights", metavar="FILE", help="weight file (default: the spec's `weights:`)")
    if strict:
        command.add_argument("--strict", action="store_true", help="unused weights are errors")
    if random:
        command.add_argument("--random-weights", action="store_true", help=random)
        command.add_argument("--seed", type=int, default=0, help="with --random-weights: the seed (default 0)")


def add_inputs(command) -> None:
    command.add_argument("--input", action="append", required=True, metavar="[NAME=]FILE",
                         help="input array (.npy, or .npz by input name); repeat for several inputs")


def image_size(text: str) -> tuple[int, int]:
    """`--imgsz 640` (square) or `--imgsz 480,640` (height, width), as ultralytics takes imgsz."""
    parts = text.split(",")
    if len(parts) not in (1, 2) or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"expected a size or height,width in pixels (640 or 480,640), not `{text}`")
    sizes = [int(p) for p in parts]
    return sizes[0], sizes[-1]


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, told the width that it would ask shutil.get_terminal_size for: importing shutil
    (with bz2, lzma and zlib) took 2 ms of `netdsl validate`'s start-up, as argparse makes a formatter for
    every argument added."""

    def __init__(self, prog, indent_increment=2, max_help_position=24, width=None):
        super().__init__(prog, indent_increment, max_help_position, terminal_columns() - 2 if width is None else width)


class RawDescriptionHelpFormatter(HelpFormatter, argparse.RawDescriptionHelpFormatter):
    pass


def terminal_columns() -> int:
    """shutil.get_terminal_size().columns: $COLUMNS, else the width of the terminal on standard output,
    else 80."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class NotBuilt:
    """Takes the calls that would build the parser of a command that is not being run."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: self


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line. With ``only`` (a command's name), only that command's parser is built: building
    all of them took longer than the rest of `netdsl validate`'s start-up, since argparse looks up a
    translation of every help string. Anything that is not a command gets the whole parser."""
    parser = argparse.ArgumentParser(prog="netdsl", description=DESCRIPTION,
                                     formatter_class=RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"netdsl {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name, handler, help_text, description=None, usage=None):
        if only is not None and name != only:
            return NotBuilt()
        sub = commands.add_parser(name, help=help_text, description=description or help_text, usage=usage,
                                  formatter_class=HelpFormatter)
        sub.set_defaults(handler=handler)
        if name in SPEC_COMMANDS:
            add_set(sub)
        return sub

    formats = {"choices": ("text", "json"), "default": "text", "help": "output format (default: text)"}
    build = add("build", cmd_build, "build a TensorRT engine plan from a spec and its weights",
                "Check the spec and its weights, lower it to TensorRT network-definition calls (TensorRT if "
                "installed, else TensorRT-RTX), build, and write the plan and OUT.json, a manifest (versions, "
                "SHA-256 of spec, weights and plan, options, I/O tensors, weight names). Options given here win "
                "over the spec's `build:` section. Nothing is written when the build fails.",
                usage="netdsl build SPEC [-o OUT] [--weights FILE | --random-weights] [--precision P] "
                "[--batch MIN,OPT,MAX] [options]")
    build.add_argument("spec", metavar="SPEC")
    build.add_argument("-o", "--output", metavar="OUT", help="plan file (default: <spec name>.plan here)")
    add_weights(build, random="build on seeded random weights instead of a weight file, to check that the "
                "network builds and to time it; the manifest marks the engine (random_weights) and `verify` refuses it")
    build.add_argument("--precision", help="float32 (default), float16 or bfloat16 (also fp32, fp16, half, bf16): "
                       "compute dtype; weights are converted, inputs and outputs keep the spec's dtype")
    build.add_argument("--batch", metavar="MIN,OPT,MAX", help="dynamic batch profile, for every input with -1")
    build.add_argument("--profile", action="append", metavar="NAME=MIN:OPT:MAX,...",
                       help="an optimization profile for the named dimensions (repeat for several); dimensions left "
                       "out keep the spec's range")
    build.add_argument("--workspace", metavar="SIZE", help="builder workspace limit, e.g. 1GiB or 1G")
    build.add_argument("--refit", metavar="MODE", help="none (default), refit, refit-identical or weightless "
                       "(a plan without weights); refittable builds need a GPU")
    build.add_argument("--target", metavar="SM,...", help="TensorRT-RTX compute capabilities, e.g. sm86,sm89 "
                       "(default: TensorRT-RTX's portable set; no GPU needed)")
    build.add_argument("--timing-cache", metavar="FILE", help="timing cache to read and update (TensorRT; "
                       "TensorRT-RTX has none)")
    build.add_argument("--optimization-level", metavar="0-5", help="builder optimization level")
    build.add_argument("-v", "--verbose", action="count", default=0, help="show TensorRT's log (-vv: verbose)")
    build.add_argument("--scales", metavar="FILE", help="a spec that quantizes: its scales file (default: the "
                       "spec's `quantization.scales`)")
    build.add_argument("--format", **formats)
    if not isinstance(build, NotBuilt):  # netdsl.trtexec only for the commands that take its flags
        from .trtexec import add_build_flags

        add_build_flags(build)

    exporter = add("export", cmd_export, "write the network and its weights as an ONNX model",
                   "Write SPEC with its weights as an ONNX model (opset 21) that Netron, ONNX Runtime and trtexec "
                   "read: tensors keep the spec's names, nodes are named <layer>/<OpType>, weights are initializers "
                   "named <layer>.<slot> (PyTorch's state_dict keys), a dynamic dimension is an ONNX symbolic "
                   "dimension of its name (N). The model passes onnx.checker's full check before it is written; "
                   "nothing is written when a layer has no ONNX form (each one is listed). Needs the onnx package.",
                   usage="netdsl export SPEC -o OUT.onnx [--weights FILE | --random-weights [--seed N]]")
    exporter.add_argument("spec", metavar="SPEC")
    exporter.add_argument("-o", "--output", required=True, metavar="OUT", help="the .onnx file to write")
    add_weights(exporter, strict=False, random="seeded random weights instead of a weight file (as `build "
                "--random-weights`), to look at the graph or time it")
    exporter.add_argument("--format", **formats)

    importer = add("import", cmd_import, "an ONNX model (or a PyTorch module) as a readable spec and its weights",
                   "Read an ONNX model and write a spec (-o, .yaml) and its weights next to it (.safetensors, "
                   "state_dict names). Layer names come from the model's module names (PyTorch's exports keep them), "
                   "batch norm, activations and biases stay layers, shape computations become the plain operation "
                   "they compute, attention is one layer, and repeated modules become blocks (repeat for chains, with: "
                   "per instance otherwise). Dynamic dimensions other than the batch become named dimensions "
                   "(ranges: --dim). The spec is checked by netdsl before it is written. What netdsl cannot express is listed node by node and nothing is written, "
                   "unless --partial. Hostile files (truncated, lying sizes, external data outside the model's "
                   "folder) are refused. --torch MODULE:NAME imports a PyTorch module instead, traced by torch.fx.",
                   usage="netdsl import MODEL.onnx -o SPEC.yaml [--partial] [--batch MIN,OPT,MAX] "
                         "[--dim NAME=MIN:OPT:MAX]\n"
                         "       netdsl import --torch PACKAGE.MODULE:FACTORY --shape 1x3x224x224 -o SPEC.yaml")
    importer.add_argument("model", metavar="MODEL", help="an .onnx file, or with --torch a Python path "
                          "`package.module:callable` (a module class or a function returning a module)")
    importer.add_argument("-o", "--output", required=True, metavar="SPEC", help="the spec to write (.yaml)")
    importer.add_argument("--partial", action="store_true", help="write what can be expressed; outputs of nodes "
                          "left out become inputs of the spec")
    importer.add_argument("--batch", metavar="MIN,OPT,MAX", help="the range of a dynamic batch (default: the one "
                          "netdsl export recorded, else 1,1,32)")
    importer.add_argument("--dim", action="append", metavar="NAME=MIN:OPT:MAX[:STEP]",
                          help="the range of a named dynamic dimension (ONNX's dim_param, e.g. height=32:224:512; STEP "
                          "sets multiple_of, which the import otherwise finds); repeat for each. Default 32:224:1024")
    importer.add_argument("--torch", action="store_true", help="MODEL is a PyTorch module to trace (torch.fx)")
    importer.add_argument("--shape", action="append", metavar="DIMS", help="with --torch: an example input shape, "
                          "e.g. 1x3x224x224 (N first: a dynamic batch, or --shape=-1x3x224x224); repeat for several "
                          "inputs")

    ref = add("reference", cmd_reference, "run a spec on numpy: what the engine should compute",
              "Execute the spec on numpy (NCHW, float32) with the semantics of its TensorRT lowering, checked "
              "against PyTorch in netdsl's tests. Inputs: --input x.npy for a one-input network, --input NAME=x.npy "
              "per input, or an .npz with arrays named after the inputs.")
    ref.add_argument("spec", metavar="SPEC")
    add_weights(ref)
    add_inputs(ref)
    ref.add_argument("-o", "--output", metavar="FILE", help="write outputs: .npy (one output) or .npz; "
                     "default: print their shapes and statistics")
    ref.add_argument("--float", action="store_true", help="a spec that quantizes: run it in float (default: its "
                     "quantized layers fake-quantized, as the engine computes them)")
    ref.add_argument("--scales", metavar="FILE", help="scales file (default: the spec's `quantization.scales`)")

    calibrate = add("calibrate", cmd_calibrate, "activation ranges for a quantized spec, on the CPU",
                    "Run the spec's float network on the reference executor over calibration samples and write the "
                    "range (amax) of every tensor its quantized layers read, one per line, sorted: a scales file. "
                    "Methods: entropy (TensorRT's KL-divergence calibration), max, percentile, mse. The same data "
                    "gives the same file.")
    calibrate.add_argument("spec", metavar="SPEC")
    calibrate.add_argument("--data", required=True, metavar="DIR", help="a folder of .npy/.npz samples or of images "
                           "(.jpg/.jpeg/.png/.bmp; file-name order), or one such file")
    calibrate.add_argument("--imgsz", metavar="H[,W]", type=image_size, help="images: the input's height and width "
                           "where they are dynamic (default: the first profile's opt)")
    calibrate.add_argument("--resize", default="letterbox", choices=["letterbox", "stretch"], help="images: keep the "
                           "aspect ratio and pad with gray 114, centered, as ultralytics does (default), or stretch")
    calibrate.add_argument("-o", "--output", metavar="SCALES", help="default: the spec's `quantization.scales`")
    add_weights(calibrate)
    calibrate.add_argument("--method", default="entropy", help="entropy (default), max, percentile or mse")
    calibrate.add_argument("--percentile", type=float, default=99.99, help="for --method percentile (99.99)")
    calibrate.add_argument("--batch", type=int, help="samples per reference run (default: up to 32)")
    calibrate.add_argument("--limit", type=int, help="use the first N samples only")
    calibrate.add_argument("--all-tensors", action="store_true", help="every float tensor, not only those the "
                           "quantized layers read (for a full calibration cache)")

    scales = add("scales", None, "import and export activation ranges",
                 "TensorRT calibration caches (calib.table) and quantization-aware training ranges.")
    scales_commands = scales.add_subparsers(dest="scales_command", metavar="COMMAND", required=True)
    imported = scales_commands.add_parser(
        "import", help="a calib.table or a QAT state dict (_amax buffers) to a scales file",
        description="Read a TensorRT calibration cache (calib.table: a TRT-... header, then `tensor: hex` lines) or a "
        "weight file holding pytorch-quantization/modelopt `_amax` buffers, map it to the spec's tensors, report "
        "every name that does not match, and write a scales file.")
    imported.set_defaults(handler=cmd_scales_import)
    imported.add_argument("spec", metavar="SPEC")
    add_set(imported)
    imported.add_argument("file", metavar="FILE", help="calib.table (any other name: read as a cache), or "
                          ".safetensors/.npz/.wts with _amax buffers")
    imported.add_argument("-o", "--output", metavar="SCALES", help="default: the spec's `quantization.scales`")
    imported.add_argument("--strict", action="store_true", help="exit 1 when a quantized layer's input got no range")
    exported = scales_commands.add_parser(
        "export", help="a scales file as a TensorRT calibration cache (calib.table)",
        description="Write a scales file as TensorRT's calibration cache: the header it was imported with (or "
        "--header), then `tensor: hex` per tensor, the hex being the float32 INT8 scale amax/127, in the spec's "
        "tensor order (--spec) or sorted.")
    exported.set_defaults(handler=cmd_scales_export)
    exported.add_argument("scales", metavar="SCALES")
    exported.add_argument("-o", "--output", required=True, metavar="FILE")
    exported.add_argument("--spec", metavar="SPEC", help="order the tensors as the spec's network does")
    exported.add_argument("--header", help="first line, e.g. TRT-100300-EntropyCalibration2 (TensorRT checks it)")

    refit = add("refit", cmd_refit, "put new weights into a refittable engine, without a rebuild",
                "Bind NEW to the engine's spec and derive the engine's weights exactly as the build did (folded batch "
                "norm, precision), check every refittable weight's name, dtype and shape against the manifest "
                "(all problems at once), then refit with TensorRT's Refitter (needs a GPU) and write the plan in "
                "place or to OUT, with an updated manifest. On failure the original engine is untouched. --check "
                "stops after the check and needs no GPU: against a refittable engine's manifest, against the "
                "manifest of any build (which records the same names, dtypes and shapes), or against SPEC itself "
                "(the weights a refittable build of it would take); it says which engines its verdict speaks for. "
                "Engines built with refit-identical or weightless take back exactly the weights they were built "
                "with. Where the spec's optimization profiles now differ from the engine's, it says so: the weights "
                "still fit, and the engine keeps serving the ranges it was built with.")
    refit.add_argument("engine", metavar="ENGINE|SPEC", help="a plan with its manifest (ENGINE.json); with --check "
                       "also a plan built without refit, or a spec (.yaml): no engine needed")
    refit.add_argument("--weights", required=True, metavar="NEW", help="the new weights (.safetensors, .wts, .npz)")
    refit.add_argument("--check", action="store_true", help="only check that NEW fits (no GPU needed)")
    refit.add_argument("--precision", help="with a SPEC: the precision of the engines to check for (default: the "
                       "spec's, else float32)")
    refit.add_argument("-o", "--output", metavar="OUT", help="write the refitted plan here (default: in place)")
    refit.add_argument("--spec", metavar="SPEC", help="the spec the engine was built from (default: as recorded)")
    refit.add_argument("--strict", action="store_true", help="unused weights are errors")

    run = add("run", cmd_run, "execute an engine plan on inputs (needs a GPU)",
              "Load ENGINE and its manifest (ENGINE.json), check the inputs against its I/O tensors, batch range and "
              "optimization profiles (named dimensions: the first profile that allows their sizes is selected), "
              "and execute on GPU 0 with cuda-python. Exit 4 when this machine cannot run engines.")
    run.add_argument("engine", metavar="ENGINE")
    add_inputs(run)
    run.add_argument("-o", "--output", metavar="FILE", help="write outputs: .npy (one output) or .npz")
    bench = add("bench", cmd_bench, "time an engine plan (needs a GPU)",
                "Execute ENGINE repeatedly on zero inputs and print p50/p99 latency of execution (no copies) and "
                "throughput. Named dynamic dimensions take the opt of the selected profile (--profile) unless "
                "--dim sets them. Exit 4 when this machine cannot run engines.")
    bench.add_argument("engine", metavar="ENGINE")
    bench.add_argument("--batch", type=int, help="batch size (default: the profile's opt)")
    bench.add_argument("--profile", type=int, metavar="INDEX", help="with named dynamic dimensions: the "
                       "optimization profile to select; its opt sizes are the default (default: 0)")
    bench.add_argument("--dim", action="append", metavar="NAME=SIZE", help="the size of a named dynamic dimension, "
                       "within the profile (e.g. --dim height=480); repeat for each")
    bench.add_argument("--iterations", type=int, default=200)
    bench.add_argument("--format", **formats)
    verify = add("verify", cmd_verify, "compare an engine with the reference executor (needs a GPU)",
                 "Run the spec on the reference executor and on an engine (ENGINE, or one built now) with the same "
                 "inputs (--input, or seeded random ones at the largest batch and sizes of the engine's first "
                 "profile) and report each output's maximum absolute and relative error. Passes when "
                 "|engine - reference| <= atol + rtol*|reference| everywhere: float32 1e-4 + 1e-3, float16 "
                 "1e-2 + 1e-2, bfloat16 5e-2 + 5e-2. Exit 0 pass, 1 fail, 4 when this machine cannot run engines.")
    verify.add_argument("spec", metavar="SPEC")
    add_weights(verify, strict=False)
    verify.add_argument("--engine", metavar="ENGINE", help="a plan built from this spec (default: build one now)")
    verify.add_argument("--precision", help="when building: float32, float16 or bfloat16 (also fp16, bf16...)")
    if not isinstance(verify, NotBuilt):
        from .trtexec import add_precision_flags

        add_precision_flags(verify)
    verify.add_argument("--input", action="append", metavar="[NAME=]FILE", help="inputs (default: seeded random)")

    inspect = add("inspect", cmd_inspect, "the TensorRT layers a spec lowers to (no GPU needed)",
                  "Lower the spec to TensorRT's INetworkDefinition (as `build` does, without building) and read it "
                  "back: per spec layer, each TensorRT layer's type, name, input and output tensors with shapes and "
                  "dtypes, the parameters that decide what it computes (kernel, stride, padding mode and amounts, "
                  "pooling type and divisor, activation alpha/beta, resize mode and coordinates, matmul operations, "
                  "shuffle permutations...) and its weight names. Without --weights the weights are zeros of the "
                  "right shapes. An ENGINE.plan is read with TensorRT's engine inspector, which needs a GPU.",
                  usage="netdsl inspect SPEC|ENGINE.plan [--layer NAME]... [--precision P] [--format json]")
    inspect.add_argument("spec", metavar="SPEC|ENGINE.plan")
    inspect.add_argument("--weights", metavar="FILE", help="bind this weight file (default: zeros; names and shapes "
                         "are the same)")
    inspect.add_argument("--precision", help="float32 (default), float16 or bfloat16: the network of that build")
    inspect.add_argument("--layer", action="append", metavar="NAME", help="only this spec layer (or TensorRT layer); "
                         "repeat for several")
    inspect.add_argument("--format", **formats)

    detecting = add("detect", cmd_detect, "run a detector spec on pictures with the reference executor (no GPU)",
                    "Letterbox each picture to the spec's input size (as ultralytics' predictor does), run the spec "
                    "on the CPU with the reference executor, and print the detections in the picture's pixels. A "
                    "spec ending in an `nms` layer gives its own detections; one with ultralytics' raw output0 "
                    "[B, 4 + classes, anchors] goes through the same NMS with --conf/--iou/--max-det. --draw writes "
                    "the picture with its boxes (Pillow).",
                    usage="netdsl detect SPEC IMAGE... [--weights FILE | --random-weights] [--set scale=s] "
                    "[--imgsz H[,W]] [--draw OUT] [options]")
    detecting.add_argument("spec", metavar="SPEC")
    detecting.add_argument("images", nargs="+", metavar="IMAGE", help=".jpg, .png or .bmp files")
    add_weights(detecting, strict=False, random="seeded random weights: checks that the spec runs; its detections "
                "mean nothing")
    detecting.add_argument("--imgsz", metavar="H[,W]", help="input size where the spec's height/width are dynamic "
                           "(default: the first profile's opt)")
    detecting.add_argument("--conf", type=float, default=0.25, help="score threshold for a raw output (0.25)")
    detecting.add_argument("--iou", type=float, default=0.45, help="IoU threshold for a raw output (0.45)")
    detecting.add_argument("--max-det", type=int, default=300, help="most detections per picture, raw output (300)")
    detecting.add_argument("--names", metavar="FILE", help="class names, one per line (default: COCO's for 80 "
                           "classes, else numbers)")
    detecting.add_argument("--draw", metavar="OUT", help="write the picture with its boxes (.png/.jpg), or a folder "
                           "for several pictures")
    detecting.add_argument("--format", **formats)

    comparing = add("compare", cmd_compare, "per-layer errors of TensorRT against the reference executor",
                    "Run the reference executor and TensorRT on the same input (--input, or seeded random at the "
                    "largest batch) and print, for every spec layer's output (or --layer ones), the maximum and mean "
                    "absolute and the maximum relative error, and the first layer over tolerance (|TensorRT - "
                    "reference| <= atol + rtol*|reference|, `verify`'s tolerances). On a GPU that TensorRT runs on, "
                    "the tensors are marked as engine outputs and the engine is run. Otherwise (or with "
                    "--evaluator) TensorRT's side is the lowered network evaluated with numpy following TensorRT's "
                    "documented layer semantics, and the report says so. Exit 0 all within tolerance, 1 otherwise.",
                    usage="netdsl compare SPEC [--weights FILE | --random-weights] [--input X] [--precision P] "
                    "[--layer NAME]... [--evaluator] [--format json]")
    comparing.add_argument("spec", metavar="SPEC")
    add_weights(comparing, strict=False, random="seeded random weights instead of a file")
    comparing.add_argument("--input", action="append", metavar="[NAME=]FILE", help="inputs (default: seeded random)")
    comparing.add_argument("--precision", help="float32 (default: the spec's), float16 or bfloat16 (also fp16, bf16...)")
    if not isinstance(comparing, NotBuilt):
        from .trtexec import add_precision_flags

        add_precision_flags(comparing)
    comparing.add_argument("--layer", action="append", metavar="NAME", help="only this spec layer's outputs; repeat")
    comparing.add_argument("--evaluator", action="store_true", help="compare the evaluator even where a GPU could "
                           "run the engine")
    comparing.add_argument("--format", **formats)

    validate = add("validate", cmd_validate, "check specs and report every problem",
                   "Check specs (YAML syntax, keys, types, names, block expansion and shapes) and report every "
                   "problem as path:line:col: error[code]: message. Exit 0 when all are valid, 1 otherwise.")
    validate.add_argument("specs", nargs="+", metavar="SPEC", help="spec files (.yaml)")
    validate.add_argument("--format", **formats)
    validate.add_argument("--weights", metavar="FILE", nargs="?", const=SPEC_DEFAULT,
                          help="also check a weight file (.safetensors, .wts, .npz) against the spec: every missing, "
                          "misshapen, non-finite or unused weight. Without FILE: the spec's own `weights:` file")
    validate.add_argument("--strict", action="store_true", help="with --weights: unused weights are errors")

    summary = add("summary", cmd_summary, "table of layers, shapes, parameters and MACs",
                  "Print each layer's kind, inputs, output shape, trainable parameters and multiply-accumulates "
                  "per sample, with totals.")
    summary.add_argument("spec", metavar="SPEC")
    summary.add_argument("--format", **formats)
    summary.add_argument("--textconv", action="store_true", help="for git's textconv: print the file itself when "
                         "it is not a valid spec, and exit 0")

    differ = add("diff", cmd_diff, "what a spec change means (exit 1 when the specs differ)",
                 "Compare two specs: layers added, removed, renamed and changed (parameter by parameter), rewired "
                 "inputs, output shapes that change, parameter and MAC deltas, and whether an engine built from OLD "
                 "can be refit to NEW. OLD and NEW are paths or REV:path (read with git show). Exit 0 when the "
                 "specs define the same network and nothing else differs, 1 when they differ, like diff.\n\n"
                 "git: `git config difftool.netdsl.cmd 'netdsl diff \"$LOCAL\" \"$REMOTE\"'` then "
                 "`git difftool -t netdsl`; for `git diff`, `git config diff.netdsl.textconv 'netdsl summary "
                 "--textconv'` and `*.yaml diff=netdsl` in .gitattributes.")
    picture = add("graph", cmd_graph, "draw the network (Graphviz)",
                  "Draw the network: layers with kind and parameter count, edges with tensor shapes, block instances "
                  "as clusters. The format follows -o's extension: .dot (nothing needed), .svg or .png (needs "
                  "Graphviz's `dot`: apt install graphviz).")
    picture.add_argument("spec", metavar="SPEC")
    picture.add_argument("-o", "--output", required=True, metavar="FILE", help="net.dot, net.svg or net.png")

    formatter = add("fmt", cmd_fmt, "rewrite specs in the canonical layout",
                    "Rewrite specs in place in one canonical layout (top-level key order, one line per input and "
                    "layer with keys in a fixed order, blank lines between sections), keeping every comment and "
                    "each scalar's spelling. The result is checked to mean exactly what the original means. With "
                    "--check nothing is written, and the exit code is 1 when a file would change (for CI).")
    formatter.add_argument("specs", nargs="+", metavar="SPEC")
    formatter.add_argument("--check", action="store_true", help="only report files that would change; exit 1 if any")

    differ.add_argument("old", metavar="OLD")
    differ.add_argument("new", metavar="NEW")
    differ.add_argument("--format", **formats)

    weights = add("weights", None, "list or convert weight files",
                  "Weight files: .safetensors, tensorrtx/NVIDIA .wts and .npz.")
    weight_commands = weights.add_subparsers(dest="weights_command", metavar="COMMAND", required=True)
    listed = weight_commands.add_parser("ls", formatter_class=HelpFormatter,
                                        help="names, dtypes, shapes and bytes of every tensor",
                                        description="List every tensor of a weight file: name, dtype, shape "
                                        "(.wts files are flat) and bytes, with totals.")
    listed.set_defaults(handler=cmd_weights_ls)
    listed.add_argument("file", metavar="FILE")
    listed.add_argument("--format", **formats)
    converted = weight_commands.add_parser(
        "convert", formatter_class=HelpFormatter, help="convert between .safetensors, .wts and .npz",
        description="Convert a weight file; formats follow the extensions. float32 values are kept exactly; "
        "float16/bfloat16 widen to float32 where the target lacks them; a conversion that would round a value "
        "is refused. OUT is written atomically: on failure nothing is written.")
    converted.set_defaults(handler=cmd_weights_convert)
    converted.add_argument("input", metavar="IN")
    converted.add_argument("output", metavar="OUT")

    schema = add("schema", cmd_schema, "print the JSON Schema of the spec language",
                 "Print a JSON Schema of the spec language. Point yaml-language-server at it with a first line "
                 "`# yaml-language-server: $schema=<path to the schema>` in a spec.")
    schema.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")

    docs = add("docs", cmd_docs, "write the reference page of every layer kind (Markdown)",
               "Generate the layer-kind reference (parameters, defaults, the PyTorch operation each kind matches, "
               "an example checked by netdsl) from the layer registry. docs/layers.md is this output.")
    docs.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")
    docs.add_argument("--check", action="store_true", help="exit 1 if FILE is not up to date")

    completion = add("completion", cmd_completion, "print a shell completion script (bash, zsh)",
                     "Print a completion script for bash or zsh, generated from netdsl's own options. bash: "
                     "`source <(netdsl completion bash)` (or save it under ~/.local/share/bash-completion/completions/"
                     "netdsl); zsh: `source <(netdsl completion zsh)` in ~/.zshrc.")
    completion.add_argument("shell", choices=("bash", "zsh"))
    if only is not None and only not in commands.choices:
        return build_parser()
    return parser


def cmd_docs(args) -> int:
    from .docs import layer_reference

    text = layer_reference()
    if args.check:
        if not args.output:
            from .diagnostics import UsageError

            raise UsageError("--check needs -o FILE, the page to compare with")
        with open(args.output, encoding="utf-8") as stream:
            if stream.read() == text:
                return EXIT_OK
        print(f"{args.output} is out of date; regenerate it: netdsl docs -o {args.output}", file=sys.stderr)
        return EXIT_INVALID
    if args.output:
        from .files import write_atomic

        write_atomic(args.output, text.encode())
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return EXIT_OK


def cmd_completion(args) -> int:
    from .completion import script

    sys.stdout.write(script(build_parser(), args.shell))
    return EXIT_OK


def parse(parser: argparse.ArgumentParser, argv):
    """parse_args, except that unknown arguments are reported by the subcommand they were given to (its
    usage, not the top level's), with the netdsl spelling of trtexec and Polygraphy flags."""
    args, extra = parser.parse_known_args(argv)
    if extra:
        from .trtexec import unknown_arguments

        target = parser
        for name in (getattr(args, "command", None), getattr(args, "weights_command", None),
                     getattr(args, "scales_command", None)):
            choices = next((a.choices for a in target._actions if isinstance(a, argparse._SubParsersAction)), {})
            if name in choices:
                target = choices[name]
        target.error(unknown_arguments(target, extra))
    return args


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv[0] if argv else None)
    args = parse(parser, argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        apply_sets(args)
        return args.handler(args)
    except SpecError as error:
        from .render import print_diagnostics

        print_diagnostics(error.diagnostics, getattr(args, "format", "text"))
        return error.exit_code  # 1 (EXIT_INVALID), or 2 where the machine falls short (build.Unbuildable)
    except NetdslError as error:
        print(f"netdsl: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("netdsl: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except (InternalError, Exception):
        import traceback

        traceback.print_exc()
        print("netdsl: internal error: this is a bug in netdsl; please report it with the spec that caused it",
              file=sys.stderr)
        return EXIT_BUG
    finally:
        if getattr(args, "set", None):  # main() may run again in this process (tests, tools): forget them
            from .spec import use_params

            use_params({})
