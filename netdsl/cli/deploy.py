"""`netdsl deploy triton|deepstream`: engines into a Triton model repository, or a DeepStream config."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

from .args import EXIT_OK, HelpFormatter, positive_count

BATCH_RULE = ("max_batch_size: N (the batch left out of dims) when every input and output starts with the same "
              "dynamic batch dim whose range starts at 1 in every profile, N being the smallest of the profiles' "
              "largest batches (Triton then batches requests itself); else 0, with the batch in dims (Triton passes "
              "tensors as they are)")


class BuildOptions:
    """Receives `netdsl build`'s arguments (netdsl.cli.build.add_build) and keeps its build options for
    `deploy`, so the two take the same flags: all but SPEC, -o/--saveEngine and --format."""

    SKIPPED = {"spec", "-o", "--output", "--saveEngine", "--save-engine", "--format"}

    def __init__(self, target, kept: list):
        self.target, self.kept = target, kept

    def add_argument(self, *flags, **options):
        if self.SKIPPED.isdisjoint(flags):
            action = self.target.add_argument(*flags, **options)
            self.kept.append(action)
            return action
        return None

    def add_argument_group(self, *args, **options):
        return BuildOptions(self.target.add_argument_group(*args, **options), self.kept)

    def set_defaults(self, **values):
        pass


def add_build_options(parser) -> None:
    """`netdsl build`'s options; the command's defaults record them (``build_options``) so that --engine,
    which builds nothing, can refuse them."""
    from .build import add_build

    kept: list = []
    add_build(lambda *args, **options: BuildOptions(parser, kept))
    parser.set_defaults(build_options=kept)


def given_build_options(args) -> list[str]:
    """The build options given, each as its flags (those sharing a destination, as --fp16/--bf16, together)."""
    flags: dict = {}
    for action in args.build_options:
        if action.option_strings and getattr(args, action.dest, None) not in (action.default, None, []):
            flags.setdefault(action.dest, []).append(action.option_strings[0])
    return ["/".join(names) for names in flags.values()]


def add_deploy(add) -> None:
    deploy = add("deploy", None, "write a Triton model repository or a DeepStream config",
                 "Put engines where they are served: `deploy triton` writes Triton Inference Server model "
                 "repositories, `deploy deepstream` Gst-nvinfer configs. See docs/deploying.md.")
    commands = deploy.add_subparsers(dest="deploy_command", metavar="COMMAND", required=True)
    triton = commands.add_parser(
        "triton", formatter_class=HelpFormatter, help="build (or take) engines into a Triton model repository",
        description="Build each SPEC as `netdsl build` does (same options), or take --engine PLAN with its manifest, "
        "and write DIR/<name>/<version>/model.plan, its manifest beside it (model.plan.json: `netdsl refit --check` "
        "works on the repository) and DIR/<name>/config.pbtxt: platform tensorrt_plan, inputs and outputs with "
        f"TYPE_ dtypes and dims (-1 where dynamic), {BATCH_RULE}; dynamic_batching with the profiles' opt batches "
        "and N as preferred sizes; instance_group (one per optimization profile, with its `profile`, where the "
        "engine has several); version_policy; labels.txt with label_filename on the class output where class "
        "names are known. A model already in DIR gets the next version; an existing version is never replaced. "
        "The model is staged in a hidden folder in DIR and renamed into place: on failure DIR is unchanged.",
        usage="netdsl deploy triton SPEC... --repo DIR [--engine PLAN] [--name NAME] [--version N] [build options]")
    triton.set_defaults(handler=cmd_triton)
    triton.add_argument("specs", nargs="*", metavar="SPEC", help="specs to build and deploy (none with --engine)")
    triton.add_argument("--repo", required=True, metavar="DIR", help="the model repository (made if missing)")
    triton.add_argument("--engine", metavar="PLAN", help="deploy this plan (with PLAN.json, its manifest) instead of "
                        "building")
    triton.add_argument("--name", metavar="NAME", help="the model's name (default: the spec's name); one model only")
    triton.add_argument("--version", type=positive_count, metavar="N", help="the version to write (default: the next "
                        "after those in DIR/<name>; an existing one is refused)")
    triton.add_argument("--instances", type=positive_count, default=1, metavar="N",
                        help="instances per GPU (per profile where the engine has several; default 1)")
    triton.add_argument("--gpus", type=gpu_list, metavar="0,1", help="GPUs the instances run on (default: all)")
    triton.add_argument("--max-queue-delay-us", type=count, default=0, metavar="US",
                        help="dynamic batching: how long a request may wait for others (default 0)")
    triton.add_argument("--max-batch-size", type=count, metavar="N", help="override the rule above: a smaller N, or "
                        "0 to turn Triton's batching off")
    triton.add_argument("--version-policy", default="latest:1", metavar="POLICY",
                        help="latest[:N], all or specific:V,V (default latest:1)")
    triton.add_argument("--labels", metavar="FILE", help="class names, one per line (default: COCO's for a spec with "
                        "80 classes, else none)")
    triton.add_argument("--ensemble", action="store_true", help="for a spec with a `frames` parameter: the network "
                        "(frames=false), its frame conversion as <name>_preprocess (uint8 NHWC frames in) and "
                        "<name>_ensemble joining them, so clients send raw frames")
    add_build_options(triton)

    stream = commands.add_parser(
        "deepstream", formatter_class=HelpFormatter, help="a Gst-nvinfer config for a YOLO spec's task or RT-DETR",
        description="Write config_infer_primary_<name>.txt (Gst-nvinfer's [property] keys: model-engine-file, "
        "network-mode, batch-size, network-type, infer-dims, output-blob-names, net-scale-factor=1/255, "
        "model-color-format=0 (RGB), scaling-filter=1 (bilinear), maintain-aspect-ratio and symmetric-padding as "
        "ultralytics' predictor resizes) and labels.txt where class names are known. By task: detect (--set "
        "nms=true) network-type 0 with the EfficientNMS parser and cluster-mode=4, as NMS ran in the engine; "
        "classify network-type 1 (nvinfer's softmax classifier, classifier-threshold); segment, pose and obb "
        "(--set nms=true) and RT-DETR network-type 100 with output-tensor-meta=1, the outputs attached as tensor "
        "metadata for the application, since no nvinfer parser reads them (docs/deploying.md says why). From "
        "--engine's manifest, or from the spec before the engine exists (model-engine-file then names the plan "
        "`netdsl build` will write). Nothing is built.",
        usage="netdsl deploy deepstream SPEC [--engine PLAN] [-o DIR] [--set nms=true] [options]")
    stream.set_defaults(handler=cmd_deepstream)
    from .args import add_set

    add_set(stream)
    stream.add_argument("spec", nargs="?", metavar="SPEC", help="the spec (not needed with --engine)")
    stream.add_argument("--engine", metavar="PLAN", help="the engine (its manifest, PLAN.json, is read)")
    stream.add_argument("-o", "--output", default=".", metavar="DIR", help="folder for the config and labels.txt "
                        "(made if missing; default: here)")
    stream.add_argument("--precision", help="without --engine: the precision the engine will be built in")
    stream.add_argument("--batch-size", type=positive_count, metavar="N", help="nvinfer's batch (default: the "
                        "engine's opt batch)")
    stream.add_argument("--labels", metavar="FILE", help="class names, one per line (default: those of the "
                        "dataset of ultralytics' weights for the task, where the class count matches: COCO's for 80 "
                        "classes, person for pose, DOTA v1's for obb with 15; none for a classifier)")
    stream.add_argument("--parser-library", metavar="SO", help="the library with NvDsInferParseCustomEfficientNMSTLT, "
                        "for task detect (default: DeepStream's lib folder)")


def gpu_list(text: str) -> tuple[int, ...]:
    parts = text.split(",")
    if not all(p.isdigit() and p.isascii() for p in parts):
        raise argparse.ArgumentTypeError(f"expected GPU numbers such as 0,1, not `{text}`")
    return tuple(int(p) for p in parts)


def count(text: str) -> int:
    if not (text.isdigit() and text.isascii() and len(text) <= 12):
        raise argparse.ArgumentTypeError(f"expected a whole number, not `{text}`")
    return int(text)


def cmd_triton(args) -> int:
    from ..deploy import triton
    from ..diagnostics import UsageError

    if bool(args.engine) == bool(args.specs):
        raise UsageError("give SPEC... to build, or --engine PLAN to deploy a built engine (not both)")
    if args.engine and given_build_options(args):
        raise UsageError(f"{', '.join(given_build_options(args))}: build options, and --engine builds nothing "
                         "(the plan was built as its manifest says)")
    if args.name and len(args.specs) > 1:
        raise UsageError("--name names one model; with several specs each takes its spec's name")
    if getattr(args, "weights", None) and len(args.specs) > 1:
        raise UsageError("--weights is one spec's; deploy specs with their own weights one at a time")
    if args.labels and not os.path.isfile(args.labels):  # before a build that would be wasted
        raise UsageError(f"--labels {args.labels}: no such file")
    options = triton.TritonOptions(args.instances, args.gpus or (), args.max_queue_delay_us, args.max_batch_size,
                                   triton.version_policy(args.version_policy))
    made = not os.path.exists(args.repo)
    try:
        staged = stage_all(args, options)
    except BaseException:
        if made:  # the repository this command made, still empty: gone again
            with contextlib.suppress(OSError):
                os.rmdir(args.repo)
        raise
    try:
        for done in staged:  # every model staged: now placed, one rename each
            triton.commit(done)
    finally:
        for done in staged:
            triton.discard(done)
    for done in staged:
        wrote = (f"{os.path.join(done.folder, str(done.version), triton.PLAN)} (version {done.version}), "
                 if done.manifest else f"{os.path.join(done.folder, str(done.version))}/ (version {done.version}), ")
        print(f"wrote {wrote}{os.path.join(done.folder, triton.CONFIG)}"
              + (f" and {os.path.join(done.folder, triton.LABELS)}" if done.labels else ""))
        if done.manifest:
            print(f"  max_batch_size {done.batching.max_batch_size}: {done.batching.reason}")
    return EXIT_OK


def stage_all(args, options) -> list:
    """Every model of the command staged in DIR, none placed (all discarded where one fails)."""
    from ..deploy import triton

    if args.ensemble:
        staged = stage_ensemble(args, options)
    else:
        jobs = [(args.name or engine_name(args.engine), triton.copy_plan(args.engine))] if args.engine else \
            [(args.name or spec_name(args, spec), plan_writer(args, spec)) for spec in args.specs]
        refuse_twice([name for name, _ in jobs])
        staged = []
        try:
            for name, write_plan in jobs:
                staged.append(triton.stage(args.repo, name, write_plan, options, args.labels, args.version))
        except BaseException:
            for done in staged:
                triton.discard(done)
            raise
    return staged


def refuse_twice(names: list[str]) -> None:
    from ..diagnostics import UsageError

    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise UsageError(f"model name {', '.join(twice)} given twice (two specs of one name): deploy them one at a "
                         "time with --name")


def stage_ensemble(args, options) -> list:
    """--ensemble: the spec built with frames=false, its frame conversion as <name>_preprocess, and the
    ensemble <name>_ensemble joining them; all three staged."""
    from ..deploy import ensemble, triton
    from ..diagnostics import UsageError
    from ..spec import load

    if args.engine or len(args.specs) != 1:
        raise UsageError("--ensemble takes one SPEC (built here twice: the network, and its frame conversion)")
    [spec] = args.specs
    frames = load(spec, params={**args.params, "frames": True}) if "frames" in declared_params(spec, args) else None
    if frames is None:
        raise UsageError(f"--ensemble: {spec} has no `frames` parameter (a spec that takes uint8 frames with "
                         "--set frames=true, as the zoo's YOLO specs do)")
    name = args.name or frames.graph.name
    args.params = {**args.params, "frames": False}
    staged = []
    try:
        staged.append(triton.stage(args.repo, f"{name}_preprocess", ensemble.preprocess_writer(
            frames, f"{name}_preprocess"), options, None, args.version))
        staged.append(triton.stage(args.repo, name, plan_writer(args, spec), options, args.labels, args.version))
        staged.append(ensemble.stage_ensemble(args.repo, f"{name}_ensemble", staged[0], staged[1], args.version))
    except BaseException:
        for done in staged:
            triton.discard(done)
        raise
    return staged


def declared_params(spec: str, args) -> dict:
    from ..spec import load

    return load(spec, params=args.params).graph.params or {}


def engine_name(plan: str) -> str:
    from ..runtime import read_manifest

    manifest, _ = read_manifest(plan)
    return manifest["spec"]["name"]


def spec_name(args, spec: str) -> str:
    from ..spec import load

    return load(spec, params=args.params).graph.name


def plan_writer(args, spec: str):
    """``write_plan`` for triton.deploy: the spec built as `netdsl build` builds it, with the same options."""

    def write(path: str) -> None:
        from .build import build_overrides, network_for_build

        build_args = argparse.Namespace(**{**vars(args), "spec": spec, "format": "text", "output": path})
        network, _ = network_for_build(build_args)
        notes: list[str] = []
        engine = network.build(scales=build_args.scales, **build_overrides(build_args, network.checked, notes))
        engine.save(path)
        for note in notes + engine.plan.notes:
            print(f"note: {note}", file=sys.stderr)

    return write


def cmd_deepstream(args) -> int:
    from .. import deploy
    from ..deploy import deepstream
    from ..diagnostics import UsageError
    from ..files import write_together

    if bool(args.engine) == bool(args.spec):
        raise UsageError("give the SPEC (its engine not built yet) or --engine PLAN (not both)")
    if args.engine:
        from ..runtime import read_manifest

        manifest, _ = read_manifest(args.engine)
        engine_file = os.path.abspath(args.engine)
        source = args.engine
    else:
        from ..build import default_output, options_for
        from ..spec import load

        from ..spec.buildopts import canonical_precision

        try:
            precision = canonical_precision(args.precision) if args.precision else None
        except ValueError as error:
            raise UsageError(f"--precision {args.precision}: {error}") from None
        checked = load(args.spec, params=args.params)
        options = options_for(checked, precision=precision)
        engine_file = os.path.abspath(os.path.join(args.output, default_output(args.spec)))
        manifest = deploy.planned_manifest(checked, options, engine_file)
        source = args.spec
    name = deploy.check_model_name(manifest["spec"]["name"], "the spec's name")
    if args.parser_library and deepstream.task_of(manifest) != "detect":
        raise UsageError(f"--parser-library: {name}'s config (task {deepstream.task_of(manifest)}) names no parser "
                         "library; the EfficientNMS parser is task detect's")
    names = deploy.class_names(manifest, args.labels)
    # relative to the config's folder, as Gst-nvinfer resolves it: the folder can move with its engine
    relative = os.path.relpath(engine_file, os.path.abspath(args.output))
    nvinfer = deepstream.nvinfer_config(manifest, relative, deploy.LABELS_FILE if names else None, args.batch_size,
                                        args.parser_library or deepstream.PARSER_LIBRARY)
    config = os.path.join(args.output, f"config_infer_primary_{name}.txt")
    files = {config: deepstream.config_text(nvinfer, source).encode()}
    if names:
        files[os.path.join(args.output, deploy.LABELS_FILE)] = deepstream.labels_text(manifest, names)
    try:
        os.makedirs(args.output, exist_ok=True)  # after every check: nothing is made when one fails
    except OSError as error:
        raise UsageError(f"-o {args.output}: cannot make the folder ({error.strerror or error})") from None
    write_together(files)
    print("wrote " + " and ".join(files))
    if not args.engine:
        print(f"  model-engine-file={relative}: build it there on the target (full TensorRT), e.g. netdsl build "
              f"{args.spec} -o {engine_file}" + "".join(f" --set {s}" for s in args.set or ())
              + (f" --precision {args.precision}" if args.precision else ""))
    return EXIT_OK


COMMANDS = {"deploy": add_deploy}
