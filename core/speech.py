"""Voice to text: probe the audio, hold its worst-case cost, convert it if the endpoint needs, transcribe, settle."""
from __future__ import annotations

import asyncio
import math
import uuid
from dataclasses import dataclass
from typing import Protocol

from core import media_errors
from core.quota import QuotaLedger


@dataclass(frozen=True)
class AudioInfo:
    """What a probe read of an audio file: its container and codec as the tool names them, and its length."""

    container: str
    codec: str
    seconds: float


@dataclass(frozen=True)
class SpeechUpload:
    """Audio ready for the transcription endpoint: bytes in a format it takes, and the file name to send."""

    data: bytes
    filename: str
    mime: str


class AudioTools(Protocol):
    """Reads and converts audio (ffmpeg, adapters/media/ffmpeg.py)."""

    async def probe(self, data: bytes) -> AudioInfo | None:
        """The audio's format and duration; None when the bytes are no audio the tool can read."""
        ...

    async def for_transcription(self, data: bytes, info: AudioInfo) -> SpeechUpload:
        """The bytes as they are when the endpoint takes their format, else converted (AMR, Speex -> WAV)."""
        ...


@dataclass(frozen=True)
class Transcript:
    text: str
    seconds: float | None = None  # the duration the endpoint measured, when it says


class Transcriber(Protocol):
    """An OpenAI-compatible /audio/transcriptions endpoint (adapters/llm/speech.py)."""

    async def transcribe(self, upload: SpeechUpload) -> Transcript: ...


@dataclass(frozen=True)
class Heard:
    """What a voice message said, how long it was and what it cost."""

    text: str
    seconds: float
    cost: int


@dataclass(frozen=True)
class SpeechSettings:
    weight_per_second: float
    max_seconds: int


class SpeechService:
    def __init__(self, transcriber: Transcriber | None, tools: AudioTools, quota: QuotaLedger,
                 settings: SpeechSettings):
        self._transcriber = transcriber
        self._tools = tools
        self._quota = quota
        self._settings = settings

    @property
    def enabled(self) -> bool:
        return self._transcriber is not None

    async def probe(self, data: bytes) -> AudioInfo | None:
        return await self._tools.probe(data)

    async def check(self, data: bytes, declared_seconds: float | None = None,
                    info: AudioInfo | None = None) -> AudioInfo:
        """The audio's probe, refused (nothing charged) when it is no readable audio or is over the length limit."""
        info = info or await self._tools.probe(data)
        if info is None:
            raise media_errors.corrupt("audio")
        longest = max(info.seconds, declared_seconds or 0.0)
        if longest > self._settings.max_seconds:
            raise media_errors.audio_too_long(longest, self._settings.max_seconds)
        return info

    def cost(self, seconds: float) -> int:
        return math.ceil(max(0.0, seconds) * self._settings.weight_per_second)

    async def transcribe(self, user_id: str, data: bytes, *, declared_seconds: float | None = None,
                         ref: str = "") -> Heard:
        """Transcribe a voice message, billed per second: the longer of the declared and probed durations is held
        first (QuotaExceeded: nothing done), the duration the endpoint measured (else the probe's) is charged.
        A failed transcription charges nothing."""
        if self._transcriber is None:
            raise media_errors.speech_unavailable()
        info = await self.check(data, declared_seconds)
        worst = max(info.seconds, declared_seconds or 0.0)
        key = f"speech:{uuid.uuid4()}"
        hold = await self._quota.hold_amount(user_id, max(1, self.cost(worst)), key, "This voice message")
        lease = self._quota.lease(hold)  # renewed while ffmpeg and the endpoint work
        try:
            upload = await self._tools.for_transcription(data, info)
            transcript = await self._transcriber.transcribe(upload)
        except BaseException:
            lease.stop()
            await asyncio.shield(self._quota.release(hold))
            raise
        lease.stop()
        seconds = transcript.seconds if transcript.seconds is not None else info.seconds
        cost = min(self.cost(seconds), hold.amount)  # never more than was held for
        entry = await asyncio.shield(self._quota.settle_amount(hold, cost, key=key, ref=ref or key))
        return Heard(transcript.text.strip(), seconds, -entry.amount if entry is not None else 0)
