"""Generate reward programs with a vision-language model, audited and refined (VLM-CaR).

    frames + description -> sub-tasks (JSON) -> program -> audit_source -> feedback -> ...

`generate()` runs the loop; providers answer requests (OpenAI-compatible endpoint,
recorded transcripts, or a script); nothing here ever runs a generated program.
"""
from carverify.generate.loop import DEFAULT_ROUNDS, Generation, Listener, Round, generate
from carverify.generate.providers import (
    Completion, OpenAIProvider, Provider, ProviderError, ReplayProvider, ScriptedProvider,
)

__all__ = [
    "DEFAULT_ROUNDS", "Completion", "Generation", "Listener", "OpenAIProvider",
    "Provider", "ProviderError", "ReplayProvider", "Round", "ScriptedProvider", "generate",
]
