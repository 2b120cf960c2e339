"""Reading an ONNX file that may be hostile: sizes are checked before anything is allocated from them,
external data is read only from files inside the model's folder, and every problem is one
:class:`OnnxFileError` with the reason, never a traceback.

    >>> read_model("/nonexistent/model.onnx")
    Traceback (most recent call last):
    ...
    netdsl.onnx.load.OnnxFileError: /nonexistent/model.onnx: cannot read it: No such file or directory
"""

from __future__ import annotations

import os

from ..diagnostics import NetdslError
from ..files import open_regular

MAX_FILE = 2**31 - 1  # protobuf's own limit for one message
MAX_ELEMENTS = 2**31 - 1  # per tensor (TensorRT's volume limit)
MAX_NODES = 100_000  # netdsl's layer limit (spec/blocks.py)
MAX_TOTAL_BYTES = 16 * 2**30  # all initializers together, external data included


class OnnxFileError(NetdslError):
    """The file is not an ONNX model netdsl reads: unreadable, truncated, inconsistent or unsafe."""


def read_model(path: str, arrays: list | None = None):
    """The ModelProto of ``path``, with external data loaded from files inside its folder; raises
    OnnxFileError. ``arrays``: see parse_model."""
    try:
        size = os.path.getsize(path)
        if size > MAX_FILE:
            raise OnnxFileError(f"{path}: {size:,} bytes, more than protobuf reads in one message ({MAX_FILE:,})")
        with open_regular(path) as stream:
            # asked for its size (+1, to see a file that grew), not MAX_FILE + 1: a read() of n bytes
            # allocates n first, and 2 GiB cost 7 ms of a 12.8 MB YOLOv8n's import (1 ms for its bytes)
            size = min(os.fstat(stream.fileno()).st_size, MAX_FILE)
            data = stream.read(size + 1)
            if len(data) > size:  # it grew meanwhile: the rest, as far as protobuf's limit
                data += stream.read(MAX_FILE + 1 - len(data))
    except OSError as error:
        raise OnnxFileError(f"{path}: cannot read it: {error.strerror or error}") from None
    return parse_model(data, path, arrays)


def parse_model(data: bytes, path: str = "<bytes>", arrays: list | None = None):
    """The ModelProto of ``data``, checked (see read_model). ``arrays``, a list, receives the initializers'
    values as numpy_helper.to_array makes them, one per initializer in order (None where to_array is left
    to make it), from the bytes the size check has read anyway (upb copies a tensor's bytes on every read:
    for ResNet-50 100 MB, a copy saved; netdsl.onnx.graph_import takes them)."""
    from google.protobuf.message import DecodeError
    from onnx import ModelProto

    model = ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError) as error:
        raise OnnxFileError(f"{path}: not an ONNX model (truncated or corrupt protobuf: {error})") from None
    if not model.HasField("graph") or not model.graph.node:
        raise OnnxFileError(f"{path}: not an ONNX model (no graph, or a graph without nodes)")
    external = check_structure(model, path, arrays)
    load_external_data(model, path, external)
    # without external data the model is exactly what ``data`` parses to: the checker reads those bytes
    # (no ByteSize and no second serialisation of the model, which took 0.9 s of ResNet-50's import)
    check_with_onnx(model, path, None if external or len(data) >= MAX_FILE // 4 else data)
    return model


def check_with_onnx(model, path: str, data: bytes | None = None) -> None:
    """ONNX's own checker, with its full check (strict shape inference): a graph where two nodes write one
    tensor, an opset ONNX does not have, a node missing a required input are refused with the checker's
    message. It runs after the external data is read (from inside the model's folder only, above), on
    the model in memory; one of 2 GB or more, which protobuf cannot hand to the checker whole, is checked
    from its file, whose external data locations are known to be safe by then. Then a graph with no
    inputs, which a netdsl spec cannot be. ``data``: the bytes ``model`` was parsed from, when it has no
    external data (the same model, checked without serialising it again)."""
    from onnx import checker, shape_inference

    large = data is None and model.ByteSize() >= MAX_FILE and os.path.isfile(path)
    try:
        checker.check_model(path if large else model if data is None else data, full_check=True)
    except (checker.ValidationError, shape_inference.InferenceError) as error:
        message = " ".join(str(error).split())
        raise OnnxFileError(f"{path}: the ONNX checker refuses it: {message[:800]}") from None
    from onnx.defs import onnx_opset_version

    newest = onnx_opset_version()
    for opset in model.opset_import:
        if opset.domain in ("", "ai.onnx") and not 1 <= opset.version <= newest:
            raise OnnxFileError(f"{path}: it imports ONNX opset {opset.version}, which ONNX does not have (the newest "
                                f"is {newest}): its operators' meaning is unknown")
    initializers = {tensor.name for tensor in model.graph.initializer}
    if not [value for value in model.graph.input if value.name not in initializers]:
        raise OnnxFileError(f"{path}: the graph has no inputs (it computes constants); a netdsl spec computes "
                            "from at least one input")


def check_structure(model, path: str, arrays: list | None = None) -> list:
    """Counts and declared sizes within limits, every tensor's data as long as its dimensions say.
    Returns the tensors that keep their data in external files (external_tensors, in one walk with the
    checks); ``arrays``: see parse_model. Subgraphs (If, Loop, Scan) are not looked into: they are not
    expressible, and the importer names their node."""
    from onnx import TensorProto

    graph = model.graph
    if len(graph.node) > MAX_NODES:
        raise OnnxFileError(f"{path}: {len(graph.node):,} nodes, more than netdsl's {MAX_NODES:,} layers")
    total = 0
    external = []
    raw: list = [] if arrays is not None else None
    for tensor in graph.initializer:
        total += check_tensor(tensor, path, f"initializer `{tensor.name}`", raw)
        if tensor.data_location == TensorProto.EXTERNAL:
            external.append(tensor)
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                tensor = attribute.t
                total += check_tensor(tensor, path, f"attribute {attribute.name} of node `{node.name}`")
                if tensor.data_location == TensorProto.EXTERNAL:
                    external.append(tensor)
    if total > MAX_TOTAL_BYTES:
        raise OnnxFileError(f"{path}: its tensors declare {total:,} bytes, more than {MAX_TOTAL_BYTES:,}")
    if arrays is not None:
        arrays[:] = [raw_array(tensor, data) for tensor, data in zip(graph.initializer, raw)]
    return external


# data types numpy_helper.to_array unpacks from raw_data (packed 2, 4 or 6 bits), not only reads
PACKED = ("INT4", "UINT4", "FLOAT4E2M1", "INT2", "UINT2", "FLOAT6E2M3", "FLOAT6E3M2")


def raw_array(tensor, data: bytes | None):
    """numpy_helper.to_array(tensor) of a tensor whose raw_data is ``data``, made as it makes it (a
    read-only array over those bytes), without reading them again; None where it does more (packed types,
    segments, a big-endian machine) or the tensor has no raw_data: to_array is left to make it then."""
    import sys

    import numpy as np
    from onnx import TensorProto, helper

    if data is None or sys.byteorder != "little" or tensor.HasField("segment") or tensor.data_type in {
            getattr(TensorProto, name, None) for name in PACKED}:
        return None
    return np.frombuffer(data, dtype=helper.tensor_dtype_to_np_dtype(tensor.data_type)).reshape(tensor.dims)


def element_size(data_type: int) -> int | None:
    from onnx import helper

    try:
        return helper.tensor_dtype_to_np_dtype(data_type).itemsize
    except (KeyError, TypeError, ValueError):
        return None


def check_tensor(tensor, path: str, what: str, raw: list | None = None) -> int:
    """The tensor's byte size, after checking its dimensions and that its data is all there; ``raw``, a
    list, receives its raw_data bytes as read for the check (None where it has none)."""
    from onnx import TensorProto

    count = 1
    for dim in tensor.dims:
        if dim < 0:
            raise OnnxFileError(f"{path}: {what} has a negative dimension ({dim})")
        count *= dim
        if count > MAX_ELEMENTS:
            raise OnnxFileError(f"{path}: {what} declares more than {MAX_ELEMENTS:,} elements "
                                f"(dimensions {list(tensor.dims)})")
    itemsize = element_size(tensor.data_type)
    if itemsize is None or tensor.data_type in (TensorProto.STRING, TensorProto.UNDEFINED):
        raise OnnxFileError(f"{path}: {what} has data type {tensor.data_type}, which netdsl does not read")
    if tensor.data_location == TensorProto.EXTERNAL:
        if raw is not None:
            raw.append(None)
        return count * itemsize
    data = tensor.raw_data if tensor.HasField("raw_data") else None
    if data is not None:
        present = len(data)
        wanted = count * itemsize
        if tensor.data_type in (TensorProto.INT4, TensorProto.UINT4, TensorProto.FLOAT4E2M1):
            wanted = (count + 1) // 2
    else:
        fields = ("float_data", "int32_data", "int64_data", "double_data", "uint64_data")
        present = sum(len(getattr(tensor, name)) for name in fields)
        wanted = count
    if present != wanted:
        raise OnnxFileError(f"{path}: {what} declares {count:,} elements (dimensions {list(tensor.dims)}) but holds "
                            f"data for {present:,}{' bytes' if tensor.HasField('raw_data') else ''}")
    if raw is not None:
        raw.append(data)
    return count * itemsize


def load_external_data(model, path: str, tensors=None) -> None:
    """Reads each external tensor's bytes into it (``tensors``: those of external_tensors, when known),
    from a file inside the model's folder only (no absolute path, no `..`, no symbolic link leading
    out), within that file's size."""
    from onnx import TensorProto

    folder = os.path.realpath(os.path.dirname(os.path.abspath(path)))
    for tensor in external_tensors(model) if tensors is None else tensors:
        info = {entry.key: entry.value for entry in tensor.external_data}
        location = info.get("location", "")
        what = f"tensor `{tensor.name}`"
        if not location or os.path.isabs(location) or ".." in location.replace("\\", "/").split("/"):
            raise OnnxFileError(f"{path}: {what} keeps its data at {location!r}: external data must be a file "
                                "inside the model's folder")
        target = os.path.realpath(os.path.join(folder, location))
        if os.path.commonpath([folder, target]) != folder:
            raise OnnxFileError(f"{path}: {what} keeps its data at {location!r}, which leads outside the model's "
                                "folder")
        try:
            offset, length = int(info.get("offset", 0)), info.get("length")
            wanted = element_size(tensor.data_type) * prod(tensor.dims)
            length = wanted if length is None else int(length)
        except ValueError:
            raise OnnxFileError(f"{path}: {what} has a malformed external offset or length") from None
        if length != wanted or offset < 0:
            raise OnnxFileError(f"{path}: {what} declares {length:,} bytes of external data at offset {offset}; "
                                f"its dimensions need {wanted:,}")
        try:
            with open(target, "rb") as stream:
                available = os.fstat(stream.fileno()).st_size
                if offset + length > available:
                    raise OnnxFileError(f"{path}: {what} reads bytes {offset:,} to {offset + length:,} of {location}, "
                                        f"which has {available:,}")
                stream.seek(offset)
                tensor.raw_data = stream.read(length)
        except OSError as error:
            raise OnnxFileError(f"{path}: {what}: cannot read its external data {location!r}: "
                                f"{error.strerror or error}") from None
        tensor.data_location = TensorProto.DEFAULT
        del tensor.external_data[:]


def external_tensors(model):
    from onnx import TensorProto

    for tensor in model.graph.initializer:
        if tensor.data_location == TensorProto.EXTERNAL:
            yield tensor
    for node in model.graph.node:
        for attribute in node.attribute:
            if attribute.HasField("t") and attribute.t.data_location == TensorProto.EXTERNAL:
                yield attribute.t


def prod(dims) -> int:
    total = 1
    for dim in dims:
        total *= dim
    return total
