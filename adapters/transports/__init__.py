"""Transports: how an adapter reaches its model (in-process, ONNX, Open Inference Protocol v2, OpenAI chat)."""

from adapters.transports.base import CallPolicy, Tensors, Transport

__all__ = ["CallPolicy", "Tensors", "Transport"]
