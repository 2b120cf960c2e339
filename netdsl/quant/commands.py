"""The quantization commands: `netdsl calibrate`, `netdsl scales import|export`, and `netdsl diff` of
two scales files. cli.py defines their arguments and calls these."""

from __future__ import annotations

import sys

from ..diagnostics import UsageError


def scales_output(checked, output: str | None) -> str:
    if output:
        return output
    section = checked.graph.quantization
    if section is None:
        raise UsageError(f"{checked.path} has no `quantization:` section; add one (`quantization: {{dtype: int8, "
                         "scales: FILE}`) to say which layers to quantize")
    if section.scales is None:
        raise UsageError("give -o FILE: the spec names no scales file (`quantization: {scales: FILE}`)")
    return section.scales


def cmd_calibrate(args) -> int:
    from ..build import load_spec
    from ..weights.bind import bind_weights
    from .calibrate import calibrate
    from .layer_order import spec_tensors
    from .scales import write_scales

    checked = load_spec(args.spec)
    output = scales_output(checked, args.output)
    bound = bind_weights(checked, args.weights)
    tensors = None
    if args.all_tensors:
        tensors = [name for name in spec_tensors(checked) if checked.types[name].dtype == "float32"]
    scales = calibrate(checked, bound, args.data, args.method, args.percentile, args.batch, args.limit, tensors,
                       imgsz=args.imgsz, resize=args.resize)
    write_scales(output, scales)
    print(f"wrote {output}: {len(scales.activations)} tensor range(s), {scales.meta['method']}, {scales.meta['data']}")
    return 0


def cmd_scales_import(args) -> int:
    from ..build import load_spec
    from .scales import write_scales

    checked = load_spec(args.spec)
    output = scales_output(checked, args.output)
    if args.file.endswith((".safetensors", ".npz", ".wts")):
        from .qat import import_qat

        scales, report = import_qat(checked, args.file)
    else:
        from .calibtable import import_table

        scales, report = import_table(checked, args.file)
    for line in report.lines():
        print(line, file=sys.stderr)
    if not scales.activations and not scales.weights:
        raise UsageError(f"nothing in {args.file} matches {args.spec}; nothing written")
    write_scales(output, scales)
    print(f"wrote {output}: {len(scales.activations)} tensor range(s)"
          + (f", {len(scales.weights)} weight range(s)" if scales.weights else ""))
    return 1 if report.missing and args.strict else 0


def cmd_scales_export(args) -> int:
    from ..files import write_atomic
    from .calibtable import format_table
    from .scales import read_scales

    checked = None
    if args.spec:
        from ..build import load_spec

        checked = load_spec(args.spec)
    scales = read_scales(args.scales)
    if scales.weights:
        print(f"note: {len(scales.weights)} per-channel weight range(s) are not part of a calibration cache (TensorRT "
              "computes weight scales itself); left out", file=sys.stderr)
    write_atomic(args.output, format_table(scales, checked, args.header).encode())
    print(f"wrote {args.output}: {len(scales.activations)} tensor(s)")
    return 0


def is_scales_file(path: str) -> bool:
    from .scales import MAGIC

    try:
        with open(path, "rb") as stream:
            return stream.read(len(MAGIC)) == MAGIC.encode()
    except OSError:
        return False


def diff_scales(old_path: str, new_path: str, paint=None) -> tuple[str, bool]:
    """(the text of `netdsl diff` for two scales files, whether they differ)."""
    from .scales import read_scales

    old, new = read_scales(old_path), read_scales(new_path)
    lines = [f"--- {old_path}", f"+++ {new_path}"]
    changed = added = removed = 0
    for name in sorted(set(old.activations) | set(new.activations)):
        a, b = old.activations.get(name), new.activations.get(name)
        if a == b:
            continue
        if a is None:
            added += 1
            lines.append(f"  + {name}: {b:.6g}")
        elif b is None:
            removed += 1
            lines.append(f"  - {name}: {a:.6g}")
        else:
            changed += 1
            ratio = f"x{b / a:.3f}" if a else "from 0"
            lines.append(f"  ~ {name}: {a:.6g} -> {b:.6g} ({ratio})")
    for name in sorted(set(old.weights) | set(new.weights)):
        if old.weights.get(name) != new.weights.get(name):
            changed += 1
            lines.append(f"  ~ weight {name}: per-channel ranges changed")
    for key in sorted(set(old.meta) | set(new.meta)):
        if old.meta.get(key) != new.meta.get(key):
            lines.append(f"  {key}: {old.meta.get(key, '(none)')} -> {new.meta.get(key, '(none)')}")
    differ = bool(changed or added or removed)
    summary = (f"scales: {changed} changed, {added} added, {removed} removed" if differ
               else "no differences in the ranges")
    return "\n".join(lines[:2] + [summary] + lines[2:]), differ or len(lines) > 2
