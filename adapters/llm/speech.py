"""core.speech.Transcriber over an OpenAI-compatible /audio/transcriptions endpoint, through the openai SDK."""
from __future__ import annotations

import openai

from adapters.llm.errors import key_missing, request_failed
from core.speech import SpeechUpload, Transcript


class OpenAITranscriber:
    def __init__(self, *, provider: str, base_url: str, api_key: str, model: str, timeout_seconds: float):
        self._provider = provider
        self._model = model
        self._keyless = not api_key
        # max_retries=0: a failed transcription is released (nothing charged) and the user may send it again.
        self._client = openai.AsyncOpenAI(base_url=base_url, api_key=api_key or "unset", timeout=timeout_seconds,
                                          max_retries=0)

    async def transcribe(self, upload: SpeechUpload) -> Transcript:
        try:
            # verbose_json: the text and the duration the endpoint measured (what is charged).
            result = await self._client.audio.transcriptions.create(
                model=self._model, file=(upload.filename, upload.data, upload.mime), response_format="verbose_json")
        except openai.OpenAIError as exc:
            if self._keyless:
                raise key_missing(self._provider, exc) from exc
            raise request_failed(self._provider, exc) from exc
        duration = getattr(result, "duration", None)
        return Transcript(str(getattr(result, "text", "") or ""), float(duration) if duration is not None else None)

    async def close(self) -> None:
        await self._client.close()
