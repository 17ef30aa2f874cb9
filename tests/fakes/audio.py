"""Test audio made here (no downloads): sine tones as WAV (Python's wave module), encoded by Debian's ffmpeg as
OGG/Opus, OGG/Speex or MP3, AMR-NB frames written by hand (Debian's ffmpeg has no AMR encoder); and `describe`, the
fake transcription service's ear: "a 440 Hz tone for 2.0 seconds"."""
from __future__ import annotations

import asyncio
import io
import math
import random
import struct
import subprocess
import wave

# What OpenAI's /audio/transcriptions takes, by file extension.
TRANSCRIBED_FORMATS = {"flac", "mp3", "mp4", "mpeg", "mpga", "m4a", "ogg", "wav", "webm"}
_RATE = 16000


def tone_wav(frequency: float = 440.0, seconds: float = 2.0, rate: int = _RATE) -> bytes:
    """A mono 16-bit sine tone."""
    frames = bytearray()
    for n in range(int(seconds * rate)):
        frames += struct.pack("<h", int(12000 * math.sin(2 * math.pi * frequency * n / rate)))
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(frames))
    return out.getvalue()


_ENCODERS = {"ogg_opus": ["-c:a", "libopus", "-b:a", "24k", "-f", "ogg"],
             "ogg_speex": ["-c:a", "libspeex", "-f", "ogg"],
             "mp3": ["-c:a", "libmp3lame", "-b:a", "32k", "-f", "mp3"]}


def encode(wav: bytes, kind: str) -> bytes:
    """The WAV re-encoded by ffmpeg: ogg_opus (a Telegram voice note), ogg_speex (WeChat's speex), mp3."""
    done = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "wav", "-i", "pipe:0", *_ENCODERS[kind],
                           "pipe:1"], input=wav, capture_output=True, check=True, timeout=60)
    return done.stdout


def amr_nb(seconds: float, seed: int = 7) -> bytes:
    """An AMR-NB file (WeChat's voice format) of 12.2 kbit/s frames with pseudo-random bits: 20 ms a frame,
    which any AMR decoder plays (as noise), so ffprobe reads its length."""
    rng = random.Random(seed)
    frames = bytearray(b"#!AMR\n")
    for _ in range(int(seconds * 50)):
        frames += b"\x3c" + bytes(rng.getrandbits(8) for _ in range(31))
    return bytes(frames)


def _pcm(data: bytes) -> bytes | None:
    """The audio as 16 kHz mono 16-bit samples, decoded by ffmpeg; None when it cannot be decoded."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        try:
            with wave.open(io.BytesIO(data)) as w:
                if w.getsampwidth() == 2 and w.getnchannels() == 1 and w.getframerate() == _RATE:
                    return w.readframes(w.getnframes())
        except (wave.Error, EOFError):
            return None
    if b"Speex   " in data[:200]:  # OGG/Speex: OpenAI's decoder does not take it
        return None
    done = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", "pipe:0", "-ac", "1", "-ar", str(_RATE),
                           "-f", "s16le", "pipe:1"], input=data, capture_output=True, timeout=60)
    return done.stdout if done.returncode == 0 and done.stdout else None


def _describe(data: bytes) -> tuple[str, float] | None:
    pcm = _pcm(data)
    if not pcm:
        return None
    samples = struct.unpack(f"<{len(pcm) // 2}h", pcm[: len(pcm) // 2 * 2])
    seconds = round(len(samples) / _RATE, 1)
    crossings = sum(1 for a, b in zip(samples, samples[1:]) if (a < 0) != (b < 0))
    frequency = int(round(crossings / 2 / max(len(samples) / _RATE, 1e-9), -1))
    return f"a {frequency} Hz tone for {seconds} seconds", seconds


async def describe(data: bytes) -> tuple[str, float] | None:
    """What the fake transcription service 'hears': the tone's frequency (nearest 10 Hz) and length."""
    return await asyncio.to_thread(_describe, data)
