"""LLMAgentOS: train one model on several NLP tasks at once."""

__version__ = "0.1.0"
__all__ = ["LLMAgentOS"]


def __getattr__(name: str):
    # Imported on first use, so that `python -m llmagentos.train` reports a config error
    # before torch and transformers load.
    if name == "LLMAgentOS":
        from llmagentos.inference import LLMAgentOS

        return LLMAgentOS
    raise AttributeError(f"module 'llmagentos' has no attribute {name!r}")
