"""OpenAIKeyChecker: asks a provider whether it takes an API key (GET {base_url}/models with it)."""
from __future__ import annotations

import openai

from adapters.llm.errors import request_failed
from core.providers import LLMProvider

CHECK_TIMEOUT_SECONDS = 15.0


class OpenAIKeyChecker:
    async def accepts(self, provider: LLMProvider, api_key: str) -> bool:
        client = openai.AsyncOpenAI(base_url=provider.base_url, api_key=api_key, max_retries=0,
                                    timeout=min(CHECK_TIMEOUT_SECONDS, provider.timeout_seconds))
        try:
            await client.models.list()
        except (openai.AuthenticationError, openai.PermissionDeniedError):
            return False
        except openai.OpenAIError as exc:
            raise request_failed(provider.name, exc) from exc
        finally:
            await client.close()
        return True
