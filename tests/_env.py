"""Environment variables no test may inherit from the host (keys, endpoints, proxies, our own)."""

from __future__ import annotations

CLEARED_PREFIXES = (
    "AZURE_", "OPENAI_", "OLLAMA_", "OPENROUTER_", "OPENSTACKAI_NB_", "VLLM_", "LLAMACPP_", "LMSTUDIO_", "GATEWAY_"
)  # fmt: skip
PROXY_VARS = frozenset(
    {"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy", "no_proxy"}
)
