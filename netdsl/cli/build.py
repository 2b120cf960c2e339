"""Commands that make and remake engines: build, refit."""

from __future__ import annotations

import sys

from ..diagnostics import SpecError
from .args import (EXIT_INVALID, EXIT_OK, add_format, add_output, add_plugins, add_precision, add_set, add_weights,
                   network_of, print_json, refuse_both_weights)

TOGETHER = "a plan and its manifest (OUT.json) are written together; name a file"
RANDOM_BUILD = ("build on seeded random weights instead of a weight file, to check that the network builds and to "
                "time it; the manifest marks the engine (random_weights) and `verify` refuses it")


def add_build(add) -> None:
    build = add("build", cmd_build, "build a TensorRT engine plan from a spec and its weights",
                "Check the spec and its weights, lower it to TensorRT network-definition calls (TensorRT if "
                "installed, else TensorRT-RTX), build, and write the plan and OUT.json, a manifest (versions, "
                "SHA-256 of spec, weights and plan, options, I/O tensors, weight names). Options given here win "
                "over the spec's `build:` section. Nothing is written when the build fails.",
                usage="netdsl build SPEC [-o OUT] [--weights FILE | --random-weights] [--precision P] "
                "[--batch MIN,OPT,MAX] [options]")
    add_set(build)
    build.add_argument("spec", metavar="SPEC")
    add_output(build, "OUT", "plan file (default: <spec name>.plan here); never `-`", stream=TOGETHER)
    add_weights(build, random=RANDOM_BUILD)
    add_precision(build, "float32 (default), float16 or bfloat16 (also fp32, fp16, half, bf16): compute dtype; "
                  "weights are converted, inputs and outputs keep the spec's dtype", trtexec_flags=False)
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
    deployment = build.add_argument_group("deployment", "plans for other machines; each is recorded in the "
                                          "manifest, and refused (exit 2) where this TensorRT cannot make it")
    deployment.add_argument("--strip-weights", action="store_true", default=None, help="a plan without its "
                            "weights (STRIP_PLAN, refit-identical unless --refit says otherwise): `netdsl refit PLAN "
                            "--weights FILE` fills it on the target; needs a GPU")
    deployment.add_argument("--hardware-compatibility", metavar="LEVEL", help="none (default), ampere+ (runs on "
                            "every Ampere and later GPU) or same-cc (GPUs of the build GPU's compute capability); "
                            "full TensorRT only")
    deployment.add_argument("--version-compatible", action="store_true", default=None, help="a plan that later "
                            "TensorRT versions run (with TensorRT's lean runtime inside)")
    deployment.add_argument("--exclude-lean-runtime", action="store_true", default=None, help="with "
                            "--version-compatible: leave the lean runtime out (the target provides it)")
    build.add_argument("-v", "--verbose", action="count", default=0, help="show TensorRT's log (-vv: verbose)")
    build.add_argument("--scales", metavar="FILE", help="a spec that quantizes: its scales file (default: the "
                       "spec's `quantization.scales`)")
    add_format(build)
    add_plugins(build)
    from .trtexec import add_build_flags  # only for the commands that take its flags

    add_build_flags(build)


def cmd_build(args) -> int:
    from ..build import default_output, manifest_path

    if args.verbose:
        show_log(args.verbose)
    network, warnings = network_for_build(args)
    notes: list[str] = []
    engine = network.build(scales=args.scales, progress=progress_bar(args),
                           **build_overrides(args, network.checked, notes))
    plan = engine.plan
    output = args.output or default_output(args.spec)
    record = engine.save(output)
    notes += plan.notes
    if args.format == "json":
        print_json({"plan": output, "manifest": manifest_path(output), "bytes": plan.data.nbytes,
                   "build_seconds": round(plan.build_seconds, 3), "tensorrt": record["tensorrt"],
                   "precision": record["precision"], "workspace": record["workspace"], "refit": record["refit"],
                   **{key: record[key] for key in ("strip_weights", "hardware_compatibility", "version_compatible",
                                                   "exclude_lean_runtime")},
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
          f"{plan.options.precision}{marked}) and {manifest_path(output)}")
    return EXIT_OK


def show_log(verbose: int) -> None:
    """-v: netdsl's log (TensorRT's included) on standard error; -vv: verbose."""
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("netdsl")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose > 1 else logging.INFO)


def progress_bar(args):
    """A progress bar for a build on a terminal, else None."""
    if not sys.stderr.isatty() or args.verbose or args.format != "text":
        return None
    from ..trt import backend
    from ..trt.progress import make_progress

    return make_progress(backend().trt)


def network_for_build(args):
    """(netdsl.api.Network with its weights, warnings) for `build`: the spec's and the weights' problems in
    one report, or seeded random weights with --random-weights. Text warnings are printed here; JSON
    output carries them."""
    from ..api import Network
    from ..render import print_diagnostics

    if args.random_weights:
        refuse_both_weights(args, "builds")
        return network_of(args), []
    from ..weights.bind import check_with_weights

    result = check_with_weights(args.spec, args.weights, args.strict, params=args.params)
    if result.spec is None:
        raise SpecError(result.diagnostics)
    if result.diagnostics and args.format == "text":
        print_diagnostics(result.diagnostics)
    path = result.weights_path if result.weights else None
    return Network(result.spec, args.params, result.weights, path), list(result.diagnostics)


def build_overrides(args, checked, notes: list[str]) -> dict:
    """Build options from the command line, trtexec and Polygraphy spellings included."""
    from . import trtexec

    return {"precision": trtexec.precision_of(args), "workspace": trtexec.workspace_of(args), "refit": args.refit,
            "target": args.target, "timing_cache": args.timing_cache,
            "optimization_level": args.optimization_level, "strip_weights": args.strip_weights,
            "hardware_compatibility": args.hardware_compatibility, "version_compatible": args.version_compatible,
            "exclude_lean_runtime": args.exclude_lean_runtime,
            "batch": trtexec.batch_from_shapes(checked, args, notes) or args.batch,
            "profiles": trtexec.profiles_from_flags(checked, args, notes)}


def add_refit(add) -> None:
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
    add_set(refit)
    refit.add_argument("engine", metavar="ENGINE|SPEC", help="a plan with its manifest (ENGINE.json); with --check "
                       "also a plan built without refit, or a spec (.yaml): no engine needed")
    refit.add_argument("--weights", required=True, metavar="NEW", help="the new weights (.safetensors, .wts, .npz)")
    refit.add_argument("--check", action="store_true", help="only check that NEW fits (no GPU needed); exit 1 when "
                       "it does not, or when ENGINE was built without refit support and so takes no new weights")
    add_precision(refit, "with a SPEC: the precision of the engines to check for (default: the spec's, else "
                  "float32)", trtexec_flags=False)
    add_output(refit, "OUT", "write the refitted plan here (default: in place); never `-`", stream=TOGETHER)
    refit.add_argument("--spec", metavar="SPEC", help="the spec the engine was built from (default: as recorded)")
    refit.add_argument("--strict", action="store_true", help="unused weights are errors")


def cmd_refit(args) -> int:
    from .. import refit

    prepared = prepare_refit(args)
    if prepared.warnings:
        from ..render import print_diagnostics

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
        # a CI gate on --check must fail where the refit itself would: an engine built without refit support
        unrefittable = prepared.manifest is not None and prepared.manifest.get("refit", "none") == "none"
        return EXIT_INVALID if unrefittable else EXIT_OK
    record = refit.refit(args.engine, args.weights, args.output, args.spec, args.strict, params=args.params)
    print(f"refitted {count} weights; wrote {args.output or args.engine} ({record['plan']['bytes']:,} bytes) and its "
          "manifest")
    return EXIT_OK


def prepare_refit(args):
    """The engine's (or, with --check, a spec's) weights prepared for the check."""
    from .. import refit
    from ..diagnostics import UsageError

    if args.engine.endswith((".yaml", ".yml")):
        if not args.check:
            raise UsageError(f"{args.engine} is a spec: refit needs an engine; with a spec, --check tells whether "
                             "the weights fit the engines built from it")
        return refit.prepare_spec(args.engine, args.weights, args.precision, args.strict, params=args.params)
    if args.precision:
        raise UsageError("--precision is for a SPEC; an engine's precision is in its manifest")
    return refit.prepare(args.engine, args.weights, args.spec, args.strict, check_only=args.check, params=args.params)


COMMANDS = {"build": add_build, "refit": add_refit}
