"""Why a file was refused: a stable reason, a status, an English message for the API and a catalogue text for chats."""
from __future__ import annotations

from core.errors import DomainError
from core.i18n import Text

MB = 1024 * 1024


class MediaRefused(DomainError):
    """A file we will not store, transcribe or show to a model; nothing was stored or charged."""

    def __init__(self, reason: str, message: str, *, status: int = 400, **values: object):
        super().__init__(message, reason=reason, status=status)
        self.text = Text.of(f"media.{reason}", **values)


def empty_file() -> MediaRefused:
    return MediaRefused("empty_file", "The file is empty (0 bytes).")


def too_large(kind: str, limit_bytes: int) -> MediaRefused:
    limit_mb = f"{limit_bytes / MB:g}"
    return MediaRefused("file_too_large", f"The {kind} is larger than the {limit_mb} MB limit.", status=413,
                        limit_mb=limit_mb)


def unsupported(what: str = "") -> MediaRefused:
    shown = f" ({what})" if what else ""
    return MediaRefused("unsupported_type", f"This type of file{shown} is not supported: send an image (PNG, JPEG, "
                        "GIF, WebP), a voice note or audio file, or a PDF, Markdown or text document.", status=415)


def kind_not_allowed(kind: str) -> MediaRefused:
    return MediaRefused("kind_not_allowed", f"Files of this kind ({kind}) are not accepted here.", status=415,
                        kind=kind)


def not_an_image() -> MediaRefused:
    return MediaRefused("not_an_image", "The file is named or declared as an image, but its contents are not a "
                        "PNG, JPEG, GIF or WebP image.", status=415)


def audio_too_long(seconds: float, limit: int) -> MediaRefused:
    return MediaRefused("audio_too_long", f"The audio is {round(seconds)} seconds long; the limit is {limit} seconds.",
                        seconds=round(seconds), limit=limit)


def corrupt(kind: str) -> MediaRefused:
    return MediaRefused("corrupt_file", f"The {kind} cannot be read: the file looks damaged or is not what it "
                        "claims to be.", kind=kind)


def speech_unavailable() -> MediaRefused:
    return MediaRefused("speech_unavailable", "Voice messages cannot be transcribed here: no speech model is "
                        "configured (llm.speech).")


def vision_unavailable(model: str) -> MediaRefused:
    return MediaRefused("vision_unsupported", f"The model {model} cannot read images and no vision model is "
                        "configured; send your question as text.", model=model)


def media_text(error: DomainError) -> Text | None:
    """The chat text for a refused file, or None when `error` is not about a file."""
    if isinstance(error, MediaRefused):
        return error.text
    if error.reason == "vision_unsupported":
        return Text.of("media.vision_unsupported", model="")
    if error.reason == "storage_exceeded":
        return Text.of("media.storage_exceeded")
    return None
