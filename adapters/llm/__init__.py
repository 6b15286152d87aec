"""Model backends: `openai` (any OpenAI-compatible server) and `local` (configured replies)."""

from adapters.llm.local import LocalAgentBackend
from adapters.llm.openai import LLMTimeouts, OpenAICompatibleBackend

__all__ = ["LLMTimeouts", "LocalAgentBackend", "OpenAICompatibleBackend"]
