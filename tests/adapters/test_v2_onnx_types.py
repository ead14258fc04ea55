"""The model servers' one table of ONNX element types in v2 terms (`adapters.serving._onnx_v2`), read off real graphs.

Each ONNX element type a v2 datatype exists for is put in a one-node graph that onnxruntime loads; what a server
publishes for it must be what Shipbrain's v2 client reads into the same numpy dtype.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from adapters.serving._onnx_v2 import NUMPY_TYPES, V2_DATATYPES, numpy_type, v2_datatype, v2_metadata
from adapters.transports import v2

ELEMENT_TYPES = {
    "BOOL": TensorProto.BOOL,
    "UINT8": TensorProto.UINT8,
    "UINT16": TensorProto.UINT16,
    "UINT32": TensorProto.UINT32,
    "UINT64": TensorProto.UINT64,
    "INT8": TensorProto.INT8,
    "INT16": TensorProto.INT16,
    "INT32": TensorProto.INT32,
    "INT64": TensorProto.INT64,
    "FP16": TensorProto.FLOAT16,
    "FP32": TensorProto.FLOAT,
    "FP64": TensorProto.DOUBLE,
    "BYTES": TensorProto.STRING,
}


def identity_session(tmp_path: Path, element_type: int) -> ort.InferenceSession:
    """A graph `y = Identity(x)` over `element_type`, x of shape ["batch", 3], y of an unknown first dimension."""
    x = helper.make_tensor_value_info("x", element_type, ["batch", 3])
    y = helper.make_tensor_value_info("y", element_type, [None, 3])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "identity", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "identity.onnx"
    onnx.save(model, path)
    return ort.InferenceSession(path, providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("datatype", list(ELEMENT_TYPES))
def test_a_graph_is_published_as_the_client_reads_it(tmp_path: Path, datatype: str) -> None:
    session = identity_session(tmp_path, ELEMENT_TYPES[datatype])
    (node,) = session.get_inputs()
    assert v2_metadata(node) == {"name": "x", "datatype": datatype, "shape": [-1, 3]}
    assert v2_metadata(session.get_outputs()[0])["shape"] == [-1, 3]
    if datatype != "BYTES":  # the client reads BYTES as str; a PyTriton server declares them as bytes
        assert np.dtype(numpy_type(node.type)) == v2._TO_NUMPY[datatype]  # what the client decodes it into
    # onnxruntime takes the graph's input in the table's numpy type (strings as objects)
    sample = np.ones((1, 3), NUMPY_TYPES[datatype]) if datatype != "BYTES" else np.array([["a", "b", "c"]], object)
    (out,) = session.run(None, {"x": sample})
    assert out.shape == (1, 3)


def test_every_v2_datatype_with_a_numpy_type_has_one_place() -> None:
    """The servers' table covers every datatype the client can send and read, and nothing else."""
    assert set(NUMPY_TYPES) == set(v2._TO_NUMPY) | {"BYTES"}
    assert set(V2_DATATYPES.values()) == set(NUMPY_TYPES) | {"BF16"}


@pytest.mark.parametrize("onnx_type", ["tensor(float8e4m3fn)", "tensor(complex64)", "seq(tensor(float))"])
def test_a_type_without_a_v2_datatype_is_named_not_published_as_bytes(onnx_type: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"ONNX element type {onnx_type!r} has no")):
        v2_datatype(onnx_type)


def test_bfloat16_has_a_datatype_but_no_numpy_type() -> None:
    assert v2_datatype("tensor(bfloat16)") == "BF16"
    with pytest.raises(ValueError, match=r"\(BF16\) has no numpy type"):
        numpy_type("tensor(bfloat16)")
