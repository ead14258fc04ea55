"""Workflows: named, typed jobs for the MES, the HTTP service and the chat page.

Arrives with the service issue.
"""

__all__: list[str] = []
