"""Serving: code that runs inside a model server, not inside Shipbrain.

`mlserver_onnx` is a Seldon MLServer custom runtime that serves an ONNX file over the Open
Inference Protocol v2. It imports `mlserver`, which lives only in MLServer's own virtual
environment (`tests/e2e/install_mlserver.sh` makes one), so this package imports none of its
modules and nothing in Shipbrain may import them.
"""

__all__: list[str] = []
