"""core.speech.AudioTools on Debian's ffmpeg and ffprobe, run as limited asyncio subprocesses on temporary files."""
from __future__ import annotations

import asyncio
import json
import logging
import os
import resource
import shutil
import tempfile
from pathlib import Path

from core import media_errors
from core.errors import DomainError
from core.speech import AudioInfo, SpeechUpload

log = logging.getLogger(__name__)

# Containers (ffprobe's format names) and codecs OpenAI's /audio/transcriptions takes as they are:
# flac, mp3, mp4, mpeg, mpga, m4a, ogg, wav, webm. Anything else (AMR, Speex, ...) is converted to WAV.
_TAKEN = {"wav": ("wav", "audio/wav"), "mp3": ("mp3", "audio/mpeg"), "flac": ("flac", "audio/flac"),
          "ogg": ("ogg", "audio/ogg"), "mov,mp4,m4a,3gp,3g2,mj2": ("m4a", "audio/mp4"),
          "matroska,webm": ("webm", "audio/webm")}
_OGG_CODECS = {"opus", "vorbis", "flac"}
_MAX_OUTPUT = 64 * 1024 * 1024     # a converted file is never larger (16 kHz mono WAV: ~2 MB a minute)
_MAX_PROBE_TEXT = 256 * 1024


class FfmpegMissing(DomainError):
    status, reason = 503, "ffmpeg_missing"


class FfmpegAudio:
    def __init__(self, ffmpeg: str = "ffmpeg", ffprobe: str = "ffprobe", timeout_seconds: float = 60,
                 max_seconds: int = 600):
        self._ffmpeg = ffmpeg
        self._ffprobe = ffprobe
        self._timeout = timeout_seconds
        self._max_seconds = max_seconds

    def available(self) -> bool:
        return shutil.which(self._ffmpeg) is not None and shutil.which(self._ffprobe) is not None

    async def probe(self, data: bytes) -> AudioInfo | None:
        with tempfile.TemporaryDirectory(prefix="bot-audio-") as folder:
            source = Path(folder) / "in"
            await asyncio.to_thread(source.write_bytes, data)
            code, out = await self._run([self._ffprobe, "-v", "error", "-show_entries",
                                         "format=format_name,duration:stream=codec_type,codec_name",
                                         "-of", "json", str(source)], Path(folder))
        if code != 0:
            return None
        try:
            found = json.loads(out)
            fmt = found.get("format") or {}
            audio = next(s for s in found.get("streams") or () if s.get("codec_type") == "audio")
            seconds = float(fmt.get("duration") or 0)
        except (ValueError, StopIteration, TypeError, AttributeError):
            return None
        if seconds <= 0:
            return None
        return AudioInfo(str(fmt.get("format_name", "")), str(audio.get("codec_name", "")), seconds)

    async def for_transcription(self, data: bytes, info: AudioInfo) -> SpeechUpload:
        taken = _TAKEN.get(info.container)
        if taken is not None and (info.container != "ogg" or info.codec in _OGG_CODECS):
            return SpeechUpload(data, f"audio.{taken[0]}", taken[1])
        return SpeechUpload(await self.to_wav(data), "audio.wav", "audio/wav")

    async def to_wav(self, data: bytes) -> bytes:
        """16 kHz mono 16-bit WAV, cut at the length limit (a longer file was refused before)."""
        with tempfile.TemporaryDirectory(prefix="bot-audio-") as folder:
            source, target = Path(folder) / "in", Path(folder) / "out.wav"
            await asyncio.to_thread(source.write_bytes, data)
            code, _ = await self._run([self._ffmpeg, "-nostdin", "-v", "error", "-y", "-i", str(source),
                                       "-t", str(self._max_seconds + 1), "-vn", "-ac", "1", "-ar", "16000",
                                       "-c:a", "pcm_s16le", "-f", "wav", str(target)], Path(folder))
            if code != 0 or not target.exists():
                raise media_errors.corrupt("audio")
            return await asyncio.to_thread(target.read_bytes)

    async def _run(self, argv: list[str], cwd: Path) -> tuple[int, str]:
        """Run a tool with CPU, file-size and wall-clock limits; its exit code and (bounded) standard output."""
        if shutil.which(argv[0]) is None:
            raise FfmpegMissing(f"{argv[0]} is not installed; voice messages need Debian's ffmpeg "
                                "(apt-get install -y ffmpeg).")
        cpu = max(1, int(self._timeout))

        def limits() -> None:  # in the child, before exec
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
            resource.setrlimit(resource.RLIMIT_FSIZE, (_MAX_OUTPUT, _MAX_OUTPUT))

        process = await asyncio.create_subprocess_exec(
            *argv, cwd=cwd, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, preexec_fn=limits, env={"PATH": os.environ.get("PATH", "")})
        try:
            out, err = await asyncio.wait_for(process.communicate(), self._timeout)
        except asyncio.TimeoutError:
            process.kill()
            await process.wait()
            log.warning("%s ran past %s s and was stopped", argv[0], self._timeout)
            raise media_errors.corrupt("audio") from None
        except asyncio.CancelledError:
            process.kill()
            await asyncio.shield(process.wait())
            raise
        if process.returncode != 0:
            log.info("%s refused a file: %s", argv[0], err[-500:].decode("utf-8", "replace").strip())
        return process.returncode or 0, out[:_MAX_PROBE_TEXT].decode("utf-8", "replace")
