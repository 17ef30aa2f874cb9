"""The `media` section of config.yaml: where stored files live, what is accepted, and the ffmpeg tools."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from adapters.config_fields import Strict

class MediaConfig(Strict):
    """Stored files (uploads, fetched images, voice, documents): where their bytes live and what is accepted."""

    folder: str = "data/media"
    max_image_mb: float = Field(10, gt=0)
    max_audio_mb: float = Field(25, gt=0)            # OpenAI's /audio/transcriptions takes up to 25 MB
    max_audio_seconds: int = Field(600, ge=1)        # a longer voice note is refused, nothing charged
    max_document_mb: float = Field(10, gt=0)
    # Kinds people may send: image, audio, document (PDF, Markdown, text).
    allowed_kinds: list[Literal["image", "audio", "document"]] = Field(
        default_factory=lambda: ["image", "audio", "document"])
    ffmpeg: str = "ffmpeg"                           # converts voice the speech endpoint does not take (AMR, Speex)
    ffprobe: str = "ffprobe"                         # reads an audio file's format and duration
    convert_timeout_seconds: float = Field(60, gt=0)
    document_wait_seconds: float = Field(60, ge=0)   # an attached document is indexed before the answer, this long
