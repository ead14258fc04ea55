"""An ONNX graph's inputs and outputs in the Open Inference Protocol v2's terms: datatypes, shapes, numpy types.

One table for every model server's script (`mlserver_onnx`, `pytriton_onnx`, `kserve_onnx`): each imports it inside
its own virtual environment, so it needs numpy alone (no onnxruntime, nothing of Shipbrain). A node is anything with
onnxruntime's `NodeArg` attributes: `name`, `type` ("tensor(float)") and `shape` (ints, names or None).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final, Protocol, TypedDict

import numpy as np

__all__ = ["NUMPY_TYPES", "V2_DATATYPES", "OnnxNode", "V2Tensor", "numpy_type", "v2_datatype", "v2_metadata"]

V2_DATATYPES: Final[Mapping[str, str]] = {
    "tensor(bool)": "BOOL",
    "tensor(uint8)": "UINT8",
    "tensor(uint16)": "UINT16",
    "tensor(uint32)": "UINT32",
    "tensor(uint64)": "UINT64",
    "tensor(int8)": "INT8",
    "tensor(int16)": "INT16",
    "tensor(int32)": "INT32",
    "tensor(int64)": "INT64",
    "tensor(float16)": "FP16",
    "tensor(float)": "FP32",
    "tensor(double)": "FP64",
    "tensor(bfloat16)": "BF16",
    "tensor(string)": "BYTES",
}
"""ONNX element types (`NodeArg.type`) and their v2 datatypes; other ONNX types (float8, int4, complex) have none."""

NUMPY_TYPES: Final[Mapping[str, type[np.generic]]] = {
    "BOOL": np.bool_,
    "UINT8": np.uint8,
    "UINT16": np.uint16,
    "UINT32": np.uint32,
    "UINT64": np.uint64,
    "INT8": np.int8,
    "INT16": np.int16,
    "INT32": np.int32,
    "INT64": np.int64,
    "FP16": np.float16,
    "FP32": np.float32,
    "FP64": np.float64,
    "BYTES": np.bytes_,
}
"""v2 datatypes and the numpy types that hold them (BYTES as bytes, as Triton's Python backends take them; BF16 has
none)."""


class OnnxNode(Protocol):
    """An input or output of an ONNX graph, as onnxruntime's `InferenceSession.get_inputs()` lists them."""

    @property
    def name(self) -> str:
        """The input's or output's name."""
        ...

    @property
    def type(self) -> str:
        """Its element type, e.g. "tensor(float)"."""
        ...

    @property
    def shape(self) -> Sequence[int | str | None]:
        """Its dimensions: a size, a symbolic name ("batch") or None (unknown)."""
        ...


class V2Tensor(TypedDict):
    """A tensor as v2 model metadata describes it (`inputs` and `outputs` of `GET /v2/models/{name}`)."""

    name: str
    datatype: str
    shape: list[int]


def v2_datatype(onnx_type: str) -> str:
    """The v2 datatype of an ONNX element type, e.g. "FP32" for "tensor(float)".

    Raises:
        ValueError: The type has no v2 datatype (it is named; a server should not publish a wrong one).
    """
    try:
        return V2_DATATYPES[onnx_type]
    except KeyError:
        raise ValueError(f"ONNX element type {onnx_type!r} has no Open Inference Protocol v2 datatype") from None


def numpy_type(onnx_type: str) -> type[np.generic]:
    """The numpy type that holds an ONNX element type's values (np.bytes_ for strings).

    Raises:
        ValueError: The type has no v2 datatype, or (BF16) no numpy type.
    """
    datatype = v2_datatype(onnx_type)
    try:
        return NUMPY_TYPES[datatype]
    except KeyError:
        raise ValueError(f"ONNX element type {onnx_type!r} ({datatype}) has no numpy type") from None


def v2_metadata(node: OnnxNode) -> V2Tensor:
    """`node` as v2 metadata: its name, datatype and shape, a symbolic ("batch") or unknown dimension as -1.

    Raises:
        ValueError: The node's element type has no v2 datatype.
    """
    shape = [dim if isinstance(dim, int) else -1 for dim in node.shape]
    return {"name": node.name, "datatype": v2_datatype(node.type), "shape": shape}
