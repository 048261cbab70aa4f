"""LLMAgentOS: train one model on several NLP tasks at once."""

__version__ = "0.1.0"
