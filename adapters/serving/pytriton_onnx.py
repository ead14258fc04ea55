"""NVIDIA Triton (through PyTriton) serving one ONNX file with onnxruntime, plus echo models.

Run inside `.venv-triton` (made by `bash tests/e2e/install_triton.sh`) with the repository root on
PYTHONPATH; `adapters.serving.launch` does both:

```
python -m adapters.serving.pytriton_onnx --onnx adapters/models/welding.onnx --http-port 8000 \
    --grpc-port 8001 --metrics-port 8002 --model welding:262144 --model welding_b1024:1024 --echo
```

Each `--model NAME:MAX_BATCH` binds the ONNX graph under NAME with Triton's dynamic batcher and that
`max_batch_size` (Triton refuses a request of more rows with a 400, and publishes the value at
`GET /v2/models/NAME/config`). Inputs keep the graph's names; per-row outputs are declared `[1]`, so they
come back shaped `[n, 1]` (Triton's batch dimension in front of the declared one). `--echo` also binds
`echo_fp32`, `echo_fp64`, `echo_int64`, `echo_bool`, `echo_bytes` and `echo_fp16`: each returns its input
`x` as output `y`, for datatype round trips. `--threads N` (default: every core) is how many cores the model
uses: onnxruntime's session runs single-threaded and each batch is cut into up to N row slices run at once, as
Shipbrain's in-process transport does (`adapters.serving._sliced`), so answers equal in-process ones to the bit
(onnxruntime's own intra-op threads would not: they change a tree ensemble's summation order).

This module runs only inside that environment; nothing in Shipbrain imports it.
"""

from __future__ import annotations

import argparse
import os
import signal
import sysconfig
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from pytriton.decorators import batch
from pytriton.model_config import DynamicBatcher, ModelConfig, Tensor
from pytriton.triton import Triton, TritonConfig

from adapters.serving._onnx_v2 import OnnxNode, numpy_type, v2_metadata
from adapters.serving._sliced import SlicedSession, default_threads

__all__ = ["ECHO_DATATYPES", "main"]

ECHO_DATATYPES: dict[str, Any] = {
    "fp32": np.float32,
    "fp64": np.float64,
    "int64": np.int64,
    "bool": np.bool_,
    "bytes": np.bytes_,
    "fp16": np.float16,
}
"""The echo models' suffixes and numpy dtypes: `echo_fp32` answers FP32, and so on."""
_ECHO_MAX_BATCH = 64


def _tensor(node: OnnxNode) -> Tensor:
    # Triton's dims leave out the batch dimension; a 1-D output (one value a row) becomes [1].
    dims = tuple(v2_metadata(node)["shape"][1:]) or (1,)
    return Tensor(name=node.name, dtype=numpy_type(node.type), shape=dims)


def _onnx_infer(session: SlicedSession) -> Callable[..., dict[str, np.ndarray]]:
    names = [node.name for node in session.get_outputs()]

    @batch  # type: ignore[untyped-decorator]  # pytriton is untyped outside its own venv
    def infer(**inputs: np.ndarray) -> dict[str, np.ndarray]:
        results = session.run(names, inputs)
        rows = len(next(iter(inputs.values())))
        return {name: np.asarray(value).reshape(rows, -1) for name, value in zip(names, results, strict=True)}

    return infer


@batch  # type: ignore[untyped-decorator]  # pytriton is untyped outside its own venv
def _echo(x: np.ndarray) -> dict[str, np.ndarray]:
    return {"y": x}


def _use_this_libpython() -> None:
    """Let Triton's Python stub load this interpreter's libpython, not another build of the same version.

    The stub links `libpython3.11.so.1.0` by name. On Debian that is the system's (package libpython3.11, the
    same build as python3.11); under another build of 3.11 (pyenv, a container's own) the system's C code would
    run this interpreter's standard library and fail (`RLock` lacks `_recursion_count` before 3.11.4). The
    environment reaches the stub through PyTriton's tritonserver, which this process starts.
    """
    if sysconfig.get_config_var("Py_ENABLE_SHARED"):
        libdir = str(sysconfig.get_config_var("LIBDIR"))
        os.environ["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [libdir, os.environ.get("LD_LIBRARY_PATH")]))


def main(argv: list[str] | None = None) -> None:
    """Bind the models and serve until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--onnx", type=Path, required=True, help="the ONNX file to serve")
    parser.add_argument("--model", action="append", default=[], help="NAME:MAX_BATCH, repeatable")
    parser.add_argument("--echo", action="store_true", help="also bind the echo_* models")
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--grpc-port", type=int, required=True)
    parser.add_argument("--metrics-port", type=int, required=True)
    parser.add_argument("--workspace", type=Path, default=None, help="PyTriton's working folder")
    parser.add_argument("--threads", type=int, default=None, help="cores the model uses (default: every core)")
    args = parser.parse_args(argv)
    _use_this_libpython()

    session = SlicedSession(args.onnx, args.threads or default_threads())
    print(f"onnx model: {session.threads} thread(s), row slices on a single-threaded session", flush=True)
    inputs = [_tensor(node) for node in session.get_inputs()]
    outputs = [_tensor(node) for node in session.get_outputs()]

    config = TritonConfig(
        http_address="127.0.0.1",
        http_port=args.http_port,
        grpc_address="127.0.0.1",
        grpc_port=args.grpc_port,
        metrics_address="127.0.0.1",
        metrics_port=args.metrics_port,
        allow_gpu_metrics=False,
        # On SIGTERM Triton waits up to this long for in-flight requests, an idle keep-alive connection included
        # (30 s by default): a server stopped under a client's connection pool should go in seconds.
        exit_timeout_secs=3,
    )
    triton = Triton(config=config, workspace=str(args.workspace) if args.workspace else None)
    for spec in args.model:
        name, _, max_batch = spec.partition(":")
        triton.bind(
            model_name=name,
            infer_func=_onnx_infer(session),
            inputs=inputs,
            outputs=outputs,
            config=ModelConfig(max_batch_size=int(max_batch), batcher=DynamicBatcher()),
            strict=True,
        )
    if args.echo:
        for suffix, dtype in ECHO_DATATYPES.items():
            triton.bind(
                model_name=f"echo_{suffix}",
                infer_func=_echo,
                inputs=[Tensor(name="x", dtype=dtype, shape=(-1,))],
                outputs=[Tensor(name="y", dtype=dtype, shape=(-1,))],
                config=ModelConfig(max_batch_size=_ECHO_MAX_BATCH, batcher=DynamicBatcher()),
            )

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        triton.serve()
    except KeyboardInterrupt:
        pass
    finally:
        triton.stop()


if __name__ == "__main__":
    main()
