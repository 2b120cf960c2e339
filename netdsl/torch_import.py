"""A PyTorch module as a netdsl spec and its weights: the reviewable torch2trt.

    import netdsl
    from netdsl.torch_import import save
    imported = netdsl.from_torch(model, torch.randn(1, 3, 224, 224))
    imported.text, imported.weights                         # the spec, and state_dict name -> array
    save(imported, "specs/model.yaml")                      # and specs/model.safetensors

The module is traced by PyTorch's own exporter (torch.onnx's TorchScript tracer, which runs offline
and records each operation's module path) and the trace goes through netdsl's ONNX importer, so the
mapping from operations to layer kinds is the one table of netdsl/onnx (one place for every
direction), and names come from the module hierarchy: ResNet's `layer1.0.conv1` keeps that name,
`layer1`'s repeated children become a block with `repeat`, and every weight is found under its
`state_dict` key. Batch norm stays a layer of its own (the trace runs in PRESERVE mode on the module in
eval mode: the exporter's EVAL mode would fold it into the convolutions).

torch is imported only here, when called; netdsl itself never needs it.
"""

from __future__ import annotations

import io
import os

from .diagnostics import NetdslError, UsageError


def from_torch(module, example_inputs, dynamic_batch: bool = True, partial: bool = False, batch=None,
               name: str | None = None, opset: int = 17, output_names=None):
    """The spec (``.text``), weights (``.weights``, state_dict names) and checked spec (``.checked``)
    of ``module`` run on ``example_inputs`` (a tensor or a tuple of them). With ``dynamic_batch`` the
    first dimension of every input is the dynamic batch. The outputs are named ``output_names`` (one per
    tensor the module returns, in order), by default output0, output1...: the tracer's own names are
    numbers of its values. Raises netdsl.onnx.importer.NotImportable listing what netdsl cannot express
    (``partial``: the rest is kept)."""
    import warnings

    import torch

    from .onnx.importer import import_model
    from .onnx.load import parse_model

    inputs = example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)
    names = ["input"] if len(inputs) == 1 else [f"input{i}" for i in range(len(inputs))]
    axes = {n: {0: "N"} for n in names} if dynamic_batch else None
    buffer = io.BytesIO()
    was_training = module.training
    module.eval()
    try:
        # (not under torch.no_grad(): nn.MultiheadAttention then takes a fused path the exporter cannot write)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, inputs, buffer, dynamo=False, input_names=names, dynamic_axes=axes,
                              opset_version=opset, training=torch.onnx.TrainingMode.PRESERVE)
    finally:
        module.train(was_training)
    model = parse_model(buffer.getvalue(), f"<{type(module).__name__}>")
    name_outputs(model, output_names)
    spec_name = name or snake(type(module).__name__)
    classes = {path: type(child).__name__ for path, child in module.named_modules() if path}
    return import_model(model, f"{spec_name}.yaml", f"{spec_name}.safetensors", partial, batch,
                        source=f"PyTorch module {type(module).__module__}.{type(module).__name__}", classes=classes)


def name_outputs(model, names=None) -> None:
    """Renames the graph outputs of a traced ``model`` (an onnx ModelProto) to ``names`` (default output0,
    output1...), wherever the trace reads or writes them; an output that is no node's (an input returned
    as it is) gets an Identity node."""
    from onnx import helper

    graph = model.graph
    old = [output.name for output in graph.output]
    names = list(names) if names is not None else [f"output{i}" for i in range(len(old))]
    if len(names) != len(old):
        raise UsageError(f"--output-names gives {len(names)} name(s), {', '.join(names)}; the module returns "
                         f"{len(old)} tensor(s)")
    if len(set(names)) != len(names) or not all(names):
        raise UsageError(f"--output-names needs distinct, non-empty names, found {', '.join(names)}")
    taken = ({value.name for value in graph.input} | {tensor.name for tensor in graph.initializer}
             | {out for node in graph.node for out in node.output}) - set(old)
    clash = [name for name in names if name in taken]
    if clash:
        raise UsageError(f"output name `{clash[0]}` is already the name of another tensor of the module (the inputs "
                         f"are {', '.join(value.name for value in graph.input)}); choose another with --output-names")
    produced = {out for node in graph.node for out in node.output}
    renames = {}
    for output, new in zip(graph.output, names):
        if output.name == new:
            continue
        if output.name in produced and output.name not in renames:
            renames[output.name] = new
        else:  # an input, or a value returned twice: a copy under the new name
            graph.node.append(helper.make_node("Identity", [output.name], [new], name=f"/{new}/Identity"))
        output.name = new
    for node in graph.node:
        node.input[:] = [renames.get(name, name) for name in node.input]
        node.output[:] = [renames.get(name, name) for name in node.output]
    for info in graph.value_info:
        info.name = renames.get(info.name, info.name)


def snake(name: str) -> str:
    import re

    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def save(imported, spec_path: str) -> None:
    """Writes the spec and, next to it, its weights (same stem, .safetensors), together."""
    from .files import write_together
    from .weights.safetensors import safetensors_chunks

    stem = os.path.splitext(os.path.basename(spec_path))[0]
    text = imported.text
    if imported.weights_file:
        text = text.replace(f"\nweights: {imported.weights_file}\n", f"\nweights: {stem}.safetensors\n", 1)
    files = {spec_path: text.encode()}
    if imported.weights:
        files[os.path.join(os.path.dirname(spec_path), f"{stem}.safetensors")] = safetensors_chunks(
            imported.weights, {"netdsl": "from_torch"})
    write_together(files)


def load_module(path: str):
    """`package.module:Name` (a module class, or a function returning a module) as a module; called
    without arguments. The module is looked for as `python -m` would, in the current folder first (which
    the `netdsl` script does not have on sys.path), then on sys.path."""
    import importlib
    import sys

    module_path, _, attribute = path.partition(":")
    if not module_path or not attribute:
        raise UsageError(f"--torch takes `package.module:callable`, found {path!r}")
    folder = os.getcwd()
    sys.path.insert(0, folder)
    try:
        module = importlib.import_module(module_path)
    except ModuleNotFoundError as error:
        if error.name and module_path.startswith(error.name):
            raise UsageError(f"cannot find {path}: no module `{error.name}` in the current folder ({folder}) or on "
                             "sys.path") from None
        raise NetdslError(f"importing {module_path} for {path} failed: {error}") from None
    except Exception as error:  # the user's module itself fails as it is imported
        raise NetdslError(f"importing {module_path} for {path} failed: {type(error).__name__}: {error}") from None
    finally:
        sys.path.remove(folder)
    factory = getattr(module, attribute, None)
    if factory is None:
        raise UsageError(f"cannot find {path}: {module_path} ({module.__file__}) has no `{attribute}`")
    try:
        return factory()
    except Exception as error:
        raise NetdslError(f"{path}() failed: {type(error).__name__}: {error}") from None


def parse_shape(text: str) -> tuple[tuple[int, ...], bool]:
    """`1x3x224x224` -> ((1, 3, 224, 224), False); `-1x3x224x224` or `Nx3x224x224`: a dynamic batch
    (traced with 1)."""
    parts = text.lower().replace(",", "x").split("x")
    dynamic = parts[0] in ("-1", "n")
    try:
        dims = tuple([1] + [int(p) for p in parts[1:]]) if dynamic else tuple(int(p) for p in parts)
    except ValueError:
        raise UsageError(f"--shape takes sizes like 1x3x224x224, found {text!r}") from None
    if any(d < 1 for d in dims):
        raise UsageError(f"--shape takes positive sizes, found {text!r}")
    return dims, dynamic


def import_torch_cli(target: str, output: str, shapes, batch, output_names=None):
    """`netdsl import --torch package.module:Factory --shape ... [--output-names a,b]`."""
    if not shapes:
        raise UsageError("--torch needs the example input shape(s): --shape 1x3x224x224 (Nx3x224x224 for a "
                         "dynamic batch)")
    parsed = [parse_shape(s) for s in shapes]
    try:
        import onnx  # noqa: F401
        import torch  # noqa: F401
    except ImportError:
        raise UsageError("netdsl import --torch needs torch and onnx: pip install torch onnx") from None
    module = load_module(target)
    example = tuple(torch.randn(*dims) for dims, _ in parsed)
    stem = os.path.splitext(os.path.basename(output))[0]
    imported = from_torch(module, example if len(example) > 1 else example[0], dynamic_batch=parsed[0][1],
                          batch=batch, name=stem, output_names=output_names)
    save(imported, output)
    return imported
