"""Serving: code that runs inside a model server, not inside Shipbrain, and the launcher that starts those servers.

- `mlserver_onnx` (and `mlserver_echo`): Seldon MLServer custom runtimes serving an ONNX file (and an echo
  model) over the Open Inference Protocol v2;
- `pytriton_onnx`: NVIDIA Triton through PyTriton, the ONNX file with dynamic batching and a configurable
  `max_batch_size`, plus echo models;
- `kserve_onnx`: KServe's model server with a custom `kserve.Model` for the ONNX file, plus echo models.

Each imports its server's package, which lives only in that server's own virtual environment
(`tests/e2e/install_mlserver.sh`, `install_triton.sh`, `install_kserve.sh` make them), so this package imports
none of those modules and nothing in Shipbrain may import them. `launch` is the exception: it runs in
Shipbrain's environment and starts any of the three as a program on a free loopback port (for tests and
benchmarks).
"""

__all__: list[str] = []
