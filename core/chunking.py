"""Chunking rules: split extracted text into overlapping passages along headings, paragraphs and sentences."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Sequence

# Sentence ends: Chinese and full-width punctuation need no following space; Latin ones do.
_SENTENCE_END = re.compile(r"[。！？；!?]+[”’」』）)]*|[.;:](?=\s)|\n")
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_SOFT_BREAK = re.compile(r"[\s，、,]")


@dataclass(frozen=True)
class Section:
    """A run of extracted text: a PDF page (with its number) or a whole document (page None)."""

    text: str
    page: int | None = None


@dataclass(frozen=True)
class Chunk:
    text: str
    position: int
    page: int | None = None
    heading: str = ""


def split_sentences(text: str) -> list[str]:
    """Sentences with their punctuation kept; works without spaces (Chinese) and with them (English)."""
    out: list[str] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        piece = text[start:m.end()].strip()
        if piece:
            out.append(piece)
        start = m.end()
    tail = text[start:].strip()
    if tail:
        out.append(tail)
    return out


def _hard_split(sentence: str, size: int) -> list[str]:
    """A sentence longer than a chunk: cut near `size`, preferring a space or comma."""
    parts: list[str] = []
    while len(sentence) > size:
        cut = size
        for i in range(size, size // 2, -1):
            if _SOFT_BREAK.match(sentence[i - 1]):
                cut = i
                break
        parts.append(sentence[:cut].strip())
        sentence = sentence[cut:].strip()
    if sentence:
        parts.append(sentence)
    return parts


def _joiner(a: str, b: str) -> str:
    """No space between two CJK pieces; a space between Latin words."""
    if a and b and (ord(a[-1]) > 0x2E80 or ord(b[0]) > 0x2E80):
        return ""
    return " "


def _blocks(text: str) -> Iterable[tuple[str, str]]:
    """('heading', text) and ('para', text) blocks of a Markdown or plain text."""
    para: list[str] = []
    for line in text.splitlines():
        m = _HEADING.match(line.strip())
        if m or not line.strip():
            if para:
                yield "para", "\n".join(para)
                para = []
            if m:
                yield "heading", m.group(2)
            continue
        para.append(line.strip())
    if para:
        yield "para", "\n".join(para)


class _Builder:
    def __init__(self, size: int, overlap: int, page: int | None, start: int):
        self.size, self.overlap, self.page = size, overlap, page
        self.chunks: list[Chunk] = []
        self.position = start
        self.heading = ""
        self.sentences: list[str] = []
        self.fresh = 0  # sentences not yet in any flushed chunk

    def _length(self, parts: Sequence[str]) -> int:
        return sum(len(p) + 1 for p in parts)

    def add_paragraph(self, paragraph: str) -> None:
        sentences = [p for s in split_sentences(paragraph) for p in _hard_split(s, self.size)]
        if sentences and self.sentences:
            sentences[0] = "\n" + sentences[0]  # keep the paragraph break inside a chunk
        for sentence in sentences:
            if self.fresh and self._length(self.sentences) + len(sentence) > self.size:
                self.flush(keep_overlap=True)
            self.sentences.append(sentence)
            self.fresh += 1

    def set_heading(self, heading: str) -> None:
        self.flush(keep_overlap=False)
        self.heading = heading

    def flush(self, keep_overlap: bool) -> None:
        if self.fresh:
            body = ""
            for s in self.sentences:
                body += (_joiner(body, s.lstrip("\n")) if body and not s.startswith("\n") else "") + s
            text = body.strip()
            if self.heading and not text.startswith(self.heading):
                text = f"{self.heading}\n{text}"
            self.chunks.append(Chunk(text, self.position, self.page, self.heading))
            self.position += 1
        tail: list[str] = []
        if keep_overlap and self.overlap > 0:
            for s in reversed(self.sentences):
                if self._length(tail) + len(s) > self.overlap:
                    break
                tail.insert(0, s.lstrip("\n"))
        self.sentences, self.fresh = tail, 0


def chunk_sections(sections: Sequence[Section], size: int = 800, overlap: int = 120) -> list[Chunk]:
    """Chunks of at most about `size` characters that never cross a heading or a page; consecutive
    chunks of one section share up to `overlap` characters of whole sentences."""
    if size < 50:
        raise ValueError("chunk size must be at least 50 characters")
    overlap = max(0, min(overlap, size // 2))
    chunks: list[Chunk] = []
    for section in sections:
        builder = _Builder(size, overlap, section.page, len(chunks))
        for kind, text in _blocks(section.text):
            if kind == "heading":
                builder.set_heading(text)
            else:
                builder.add_paragraph(text)
        builder.flush(keep_overlap=False)
        chunks.extend(builder.chunks)
    return chunks
