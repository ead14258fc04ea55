"""The brain: the LangGraph supervisor, planners, run state, answers and the `shipbrain` command.

The supervisor arrives with the brain issue; today this package holds the root command (`brain.cli`).
"""

__all__: list[str] = []
