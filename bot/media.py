"""Media wiring: speech (transcriber, ffmpeg) and the MediaService every channel and the API call for files."""
from __future__ import annotations

import logging

from adapters.llm.speech import OpenAITranscriber
from adapters.media.ffmpeg import FfmpegAudio
from adapters.retrieval.extractors import DocumentExtractor
from bot.config import AppConfig
from core.media import MediaLimits, MediaService
from core.speech import SpeechService, SpeechSettings

log = logging.getLogger(__name__)

MB = 1024 * 1024


def build_transcriber(config: AppConfig) -> OpenAITranscriber | None:
    speech = config.llm.speech
    if speech is None:
        return None
    provider = next(p for p in config.llm.providers if p.name == speech.provider)
    return OpenAITranscriber(provider=provider.name, base_url=provider.base_url, api_key=provider.api_key,
                             model=speech.model, timeout_seconds=provider.timeout_seconds)


def build_media(config: AppConfig, files, quota, conversations, messages, knowledge,
                closers: list) -> MediaService:
    """Files, speech and documents for every channel; documents sent in chats become resources of `knowledge` (a
    ResourceService, or None). The transcriber's session joins `closers`."""
    m = config.media
    tools = FfmpegAudio(m.ffmpeg, m.ffprobe, m.convert_timeout_seconds, m.max_audio_seconds)
    transcriber = build_transcriber(config)
    if transcriber is not None:
        closers.append(transcriber.close)
        if not tools.available():
            log.warning("llm.speech is set but ffmpeg/ffprobe are not installed: voice messages will be refused "
                        "(apt-get install -y ffmpeg)")
    weight = config.llm.speech.weight_per_second if config.llm.speech else 0.0
    speech = SpeechService(transcriber, tools, quota, SpeechSettings(weight, m.max_audio_seconds))
    limits = MediaLimits(image_bytes=int(m.max_image_mb * MB), audio_bytes=int(m.max_audio_mb * MB),
                         audio_seconds=m.max_audio_seconds, document_bytes=int(m.max_document_mb * MB),
                         kinds=frozenset(m.allowed_kinds), document_wait_seconds=m.document_wait_seconds)
    return MediaService(files=files, speech=speech, extractor=DocumentExtractor(), conversations=conversations,
                        messages=messages, limits=limits, knowledge=knowledge)


def media_of(services) -> MediaService:
    return services.media
