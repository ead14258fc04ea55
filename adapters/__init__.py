"""Adapters: each yard model as a typed tool (protocol, registry, transports, batch executor).

Arrives with the adapters issue.
"""

__all__: list[str] = []
