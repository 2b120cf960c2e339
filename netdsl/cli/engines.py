"""Commands that execute a network or read what TensorRT makes of it: reference, compare, inspect (no GPU
needed), run, bench, verify (a GPU)."""

from __future__ import annotations

import sys

from .args import (ARRAYS, EXIT_INVALID, EXIT_OK, add_format, add_inputs, add_output, add_plugins, add_precision,
                   add_set, add_weights, emit_outputs, network_of, print_json)


def add_reference(add) -> None:
    ref = add("reference", cmd_reference, "run a spec on numpy: what the engine should compute",
              "Execute the spec on numpy (NCHW, float32) with the semantics of its TensorRT lowering, checked "
              "against PyTorch in netdsl's tests. Inputs: --input x.npy for a one-input network, --input NAME=x.npy "
              "per input, or an .npz with arrays named after the inputs.")
    add_set(ref)
    ref.add_argument("spec", metavar="SPEC")
    add_weights(ref, random="seeded random weights instead of a weight file (as `build --random-weights`): "
                "the outputs mean nothing, but every layer runs")
    add_inputs(ref)
    add_output(ref, "FILE", "write outputs: .npy (one output) or .npz; default: print their shapes and statistics",
               stream=ARRAYS)
    ref.add_argument("--float", action="store_true", help="a spec that quantizes: run it in float (default: its "
                     "quantized layers fake-quantized, as the engine computes them)")
    ref.add_argument("--scales", metavar="FILE", help="scales file (default: the spec's `quantization.scales`)")
    add_plugins(ref, library=False, reference=True)


def cmd_reference(args) -> int:
    from .. import arrays

    network = network_of(args)
    if args.random_weights:
        print(f"note: RANDOM WEIGHTS (seed {args.seed}): these outputs mean nothing", file=sys.stderr)
    inputs = arrays.read_inputs(args.input, [i["name"] for i in network.inputs])
    return emit_outputs(args.output, network.reference(inputs, scales=args.scales, quantized=not args.float))


def add_compare(add) -> None:
    comparing = add("compare", cmd_compare, "per-layer errors of TensorRT against the reference executor",
                    "Run the reference executor and TensorRT on the same input (--input, or seeded random at the "
                    "profile's opt sizes, or those --batch and --shapes give) and print, for every spec layer's "
                    "output (or --layer ones), the maximum and mean absolute and the maximum relative error, and the "
                    "first layer over tolerance (|TensorRT - reference| <= atol + rtol*|reference|, `verify`'s "
                    "tolerances). On a GPU that TensorRT runs on, the tensors are marked as engine outputs and the "
                    "engine is run. Otherwise (or with "
                    "--evaluator) TensorRT's side is the lowered network evaluated with numpy following TensorRT's "
                    "documented layer semantics, and the report says so. Exit 0 all within tolerance, 1 otherwise.",
                    usage="netdsl compare SPEC [--weights FILE | --random-weights] [--input X | --batch N | --shapes "
                    "SIZES] [--precision P] [--layer NAME]... [--evaluator] [--format json]")
    add_set(comparing)
    comparing.add_argument("spec", metavar="SPEC")
    add_weights(comparing, strict=False, random="seeded random weights instead of a file")
    add_inputs(comparing, required=False)
    comparing.add_argument("--batch", type=int, metavar="N", help="random inputs: this batch (default: the batch's "
                           "opt; the largest can take minutes and gigabytes)")
    comparing.add_argument("--shapes", metavar="SIZES", help="random inputs: sizes of dynamic dimensions, "
                           "NAME=SIZE,... (N: the batch; e.g. N=4,height=320) or trtexec's INPUT:4x3x320x320,... "
                           "(default: the first profile's opt)")
    add_precision(comparing, "float32 (default: the spec's), float16 or bfloat16 (also fp16, bf16...)")
    comparing.add_argument("--layer", action="append", metavar="NAME", help="only this spec layer's outputs; repeat")
    comparing.add_argument("--evaluator", action="store_true", help="compare the evaluator even where a GPU could "
                           "run the engine")
    add_format(comparing)
    add_plugins(comparing, reference=True)


def cmd_compare(args) -> int:
    from .. import compare, runtime
    from .trtexec import precision_of

    network = network_of(args)
    checked, bound = network.checked, network.bound_weights
    inputs = compare_inputs(args, checked)
    use_engine = False
    if not args.evaluator:
        try:
            runtime.require_gpu(runtime.cuda_runtime())
            use_engine = True
        except runtime.CannotRun as reason:
            print(f"note: {reason}; comparing the TensorRT-semantics evaluator instead of an engine", file=sys.stderr)
    precision = precision_of(args) or (checked.graph.build.precision if checked.graph.build else None) or "float32"
    result = compare.compare(checked, bound, inputs, precision, args.layer, use_engine)
    if args.format == "json":
        print_json(result.to_json())
    else:
        print(compare.render(result))
    return EXIT_OK if result.first_failure is None else EXIT_INVALID


def compare_inputs(args, checked) -> dict:
    """--input's arrays, else seeded random ones (as `verify`'s) with every dynamic dimension at its opt (the
    batch's, and the first profile's for named ones) unless --batch or --shapes sizes it."""
    from .. import arrays, reference
    from ..diagnostics import UsageError

    declared = reference.declared(checked)
    if args.input:
        if args.batch is not None or args.shapes:
            raise UsageError("--batch and --shapes size random inputs; --input's arrays have their own sizes")
        return arrays.read_inputs(args.input, [d.name for d in declared])
    sizes = {name: ranges[1] for name, ranges in checked.graph.profiles[0].ranges.items()} \
        if checked.graph.profiles else {}
    sizes.update(given_sizes(args, checked))
    import numpy as np

    rng = np.random.default_rng(0)
    batches = {i.name: sizes.get("N", i.batch[1]) for i in checked.graph.inputs if i.batch}
    result = {}
    for d in declared:
        shape = tuple(batches[d.name] if dim is None else dim if isinstance(dim, int) else arrays.dim_size(dim, sizes)
                      for dim in d.shape)  # (a sum of named dims, past+sequence, from its names' sizes)
        result[d.name] = (rng.integers(0, 2, shape).astype(d.dtype) if d.dtype.startswith(("int", "uint"))
                          else rng.standard_normal(shape).astype(np.float32))  # token ids and masks: 0 and 1
    return result


def given_sizes(args, checked) -> dict:
    """{dimension: size} from --batch N and --shapes (NAME=SIZE,... or trtexec's INPUT:NxCxHxW,...), each
    dimension dynamic in the spec; the ranges are checked with the inputs, as for --input's arrays."""
    from ..diagnostics import UsageError
    from ..tensors import BATCH
    from .trtexec import named_sizes, parse_shapes

    dynamic = {name for i in checked.graph.inputs for d in i.shape if not isinstance(d, int) for name in d.names()}
    given = {}
    if args.shapes and "=" in args.shapes:
        for item in args.shapes.split(","):
            name, _, size = item.partition("=")
            name = name.strip()
            if name not in dynamic:
                known = f"its dynamic dimensions are {', '.join(sorted(dynamic))}" if dynamic else "it has none"
                raise UsageError(f"--shapes {item}: `{name}` is not a dynamic dimension of {checked.path}; {known}")
            if not size.strip().isdigit() or int(size) < 1:
                raise UsageError(f"--shapes {item}: the size must be a positive integer")
            given[name] = int(size)
    elif args.shapes:
        given = dict(named_sizes(checked, parse_shapes(args.shapes, "--shapes")))
    if args.batch is not None:
        if BATCH.name not in dynamic:
            named = f"; its dynamic sizes are named: --shapes {sorted(dynamic)[0]}=SIZE" if dynamic else ""
            raise UsageError(f"--batch: {checked.path} has no -1 batch{named}")
        if args.batch < 1 or given.get(BATCH.name, args.batch) != args.batch:
            raise UsageError(f"--batch {args.batch}: " + ("the batch must be at least 1" if args.batch < 1 else
                             f"--shapes gives the batch {given[BATCH.name]}"))
        given[BATCH.name] = args.batch
    return given


def inputs_or_samples(args, declared) -> dict:
    """--input's arrays, else seeded random ones at the largest sizes ``declared`` allows."""
    from .. import arrays, runtime

    if args.input:
        return arrays.read_inputs(args.input, [d.name for d in declared])
    return runtime.sample_inputs(declared)


def add_inspect(add) -> None:
    inspect = add("inspect", cmd_inspect, "the TensorRT layers a spec lowers to (no GPU needed)",
                  "Lower the spec to TensorRT's INetworkDefinition (as `build` does, without building) and read it "
                  "back: per spec layer, each TensorRT layer's type, name, input and output tensors with shapes and "
                  "dtypes, the parameters that decide what it computes (kernel, stride, padding mode and amounts, "
                  "pooling type and divisor, activation alpha/beta, resize mode and coordinates, matmul operations, "
                  "shuffle permutations...) and its weight names. Without --weights the weights are zeros of the "
                  "right shapes. An ENGINE.plan is read with TensorRT's engine inspector, which needs a GPU; its "
                  "manifest ENGINE.plan.json tells how it was built (precision, targets, refit, weight stripping, "
                  "hardware and version compatibility, I/O, plugins), on any machine.",
                  usage="netdsl inspect SPEC|ENGINE.plan|ENGINE.plan.json [--layer NAME]... [--precision P] "
                  "[--format json]")
    add_set(inspect)
    inspect.add_argument("spec", metavar="SPEC|ENGINE.plan|MANIFEST.json")
    inspect.add_argument("--weights", metavar="FILE", help="bind this weight file (default: zeros; names and shapes "
                         "are the same)")
    add_precision(inspect, "float32 (default), float16 or bfloat16: the network of that build", trtexec_flags=False)
    inspect.add_argument("--layer", action="append", metavar="NAME", help="only this spec layer (or TensorRT layer); "
                         "repeat for several")
    add_format(inspect)
    add_plugins(inspect)


def cmd_inspect(args) -> int:
    from ..trt import inspect

    if args.spec.endswith(".json"):
        return inspect_manifest(args)
    if args.spec.endswith((".plan", ".engine", ".trt")):
        info = inspect.inspect_plan(args.spec)
    else:
        info = inspect.inspect_spec(args.spec, args.weights, args.precision, params=args.params)
    only = set(args.layer) if args.layer else None
    if only is not None:
        known = {layer.spec_layer for layer in info.layers} | {layer.name for layer in info.layers}
        missing = sorted(only - known)
        if missing:
            from ..diagnostics import UsageError

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


def inspect_manifest(args) -> int:
    """`netdsl inspect ENGINE.plan.json`: how the engine was built, from its manifest (no GPU, no TensorRT)."""
    from ..diagnostics import UsageError
    from ..runtime import parse_manifest

    try:
        record = parse_manifest(args.spec)
        options = {key: record[key] for key in ("precision", "targets", "refit")}
    except FileNotFoundError:
        raise UsageError(f"no such manifest: {args.spec}") from None
    except OSError as error:
        raise UsageError(f"cannot read the manifest {args.spec}: {error.strerror or error}") from None
    except (ValueError, KeyError, TypeError) as error:
        raise UsageError(f"{args.spec} is not a netdsl manifest ({str(error)[:80]})") from None
    if args.layer:
        raise UsageError("--layer reads layers of a spec or a plan; a manifest records how the engine was built")
    if args.format == "json":
        print_json(record)
        return EXIT_OK
    tensorrt, plan = record.get("tensorrt", {}), record.get("plan", {})
    deployment = {key: record.get(key, default) for key, default in MANIFEST_DEPLOYMENT.items()}
    spec = record.get("spec", {}).get("path")
    lines = [f"{plan.get('path')}: {plan.get('bytes', 0):,} bytes, {tensorrt.get('flavour')} "
             f"{tensorrt.get('version')}, built by netdsl {record.get('netdsl')} from {spec}",
             *(f"{key:<24}{_shown(value)}" for key, value in {**options, **deployment}.items()),
             *(f"input  {t['name']}: {t['dtype']} {t['shape']}" for t in record.get("inputs", [])),
             *(f"output {t['name']}: {t['dtype']} {t['shape']}" for t in record.get("outputs", [])),
             *(f"plugin {p['layer']}: {p['name']} version {p['version']} namespace '{p['namespace']}'"
               for p in (record.get("plugins") or {}).get("layers", [])),
             *(f"plugin library {lib['path']}" for lib in (record.get("plugins") or {}).get("libraries", []))]
    print("\n".join(lines))
    return EXIT_OK


def _shown(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return ", ".join(value) if isinstance(value, list) else str(value)


# the deployment options a manifest records, with what a manifest written before they existed means
MANIFEST_DEPLOYMENT = {"strip_weights": False, "hardware_compatibility": "none", "version_compatible": False,
                       "exclude_lean_runtime": False}


def add_run(add) -> None:
    run = add("run", cmd_run, "execute an engine plan on inputs (needs a GPU)",
              "Load ENGINE and its manifest (ENGINE.json), check the inputs against its I/O tensors, batch range and "
              "optimization profiles (named dimensions: the first profile that allows their sizes is selected), "
              "and execute on GPU 0 with cuda-python. Exit 4 when this machine cannot run engines.")
    run.add_argument("engine", metavar="ENGINE")
    add_inputs(run)
    add_output(run, "FILE", "write outputs: .npy (one output) or .npz", stream=ARRAYS)


def cmd_run(args) -> int:
    from .. import arrays
    from ..runtime import Engine, declared_inputs

    engine = Engine.open(args.engine)
    inputs = arrays.read_inputs(args.input, [d.name for d in declared_inputs(engine.manifest)])
    engine.check(inputs)  # before any GPU is needed
    with engine:
        outputs = engine.run(inputs)
    return emit_outputs(args.output, outputs)


def add_bench(add) -> None:
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
    add_format(bench)


def cmd_bench(args) -> int:
    from ..runtime import Engine, bench_inputs

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
    from ..diagnostics import UsageError

    name, _, size = text.partition("=")
    if not name or not size.isdigit() or int(size) < 1:
        raise UsageError(f"--dim takes NAME=SIZE (e.g. height=480), found {text!r}")
    return name, int(size)


def add_verify(add) -> None:
    verify = add("verify", cmd_verify, "compare an engine with the reference executor (needs a GPU)",
                 "Run the spec on the reference executor and on an engine (ENGINE, or one built now) with the same "
                 "inputs (--input, or seeded random ones at the largest batch and sizes of the engine's first "
                 "profile) and report each output's maximum absolute and relative error. Passes when "
                 "|engine - reference| <= atol + rtol*|reference| everywhere: float32 1e-4 + 1e-3, float16 "
                 "1e-2 + 1e-2, bfloat16 5e-2 + 5e-2. Exit 0 pass, 1 fail, 4 when this machine cannot run engines.")
    add_set(verify)
    verify.add_argument("spec", metavar="SPEC")
    add_weights(verify, strict=False)
    verify.add_argument("--engine", metavar="ENGINE", help="a plan built from this spec (default: build one now)")
    add_precision(verify, "when building: float32, float16 or bfloat16 (also fp16, bf16...)")
    add_inputs(verify, required=False)


def cmd_verify(args) -> int:
    from .. import reference, runtime
    from ..build import build_plan, manifest
    from ..spec import load as load_spec
    from ..trt.network import options_for
    from ..weights.bind import bind_weights

    checked = load_spec(args.spec, params=args.params)
    weights = checked.weights_file(args.weights)
    bound = bind_weights(checked, weights)
    if args.engine:
        engine = runtime.Engine.open(args.engine)
        runtime.check_engine_matches(engine.manifest, args.spec, weights)
    # the engine's inputs when given (it may have been built for other profiles than the spec's)
    inputs = inputs_or_samples(args, runtime.declared_inputs(engine.manifest) if args.engine
                               else reference.declared(checked))
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


COMMANDS = {"reference": add_reference, "compare": add_compare, "inspect": add_inspect, "run": add_run,
            "bench": add_bench, "verify": add_verify}
