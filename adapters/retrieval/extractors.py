"""Text out of documents: plain text in any encoding (charset-normalizer), Markdown, PDF (pypdf, page by
page) and web pages (trafilatura's main-text extraction)."""
from __future__ import annotations

import asyncio
import io
import logging

from core.chunking import Section
from core.errors import InvalidRequest
from core.knowledge_ports import Document

log = logging.getLogger(__name__)

PDF = "application/pdf"
HTML = "text/html"
MARKDOWN = "text/markdown"
TEXT = "text/plain"


def kind_of(filename: str, content_type: str, head: bytes) -> str:
    """The content type we index an upload as, from its bytes, name and declared type."""
    name = filename.lower()
    declared = (content_type or "").split(";", 1)[0].strip().lower()
    if head.startswith(b"%PDF") or name.endswith(".pdf") or declared == PDF:
        return PDF
    if name.endswith((".md", ".markdown")) or declared in (MARKDOWN, "text/x-markdown"):
        return MARKDOWN
    if name.endswith((".html", ".htm")) or declared in (HTML, "application/xhtml+xml"):
        return HTML
    return TEXT


def decode_text(body: bytes) -> str:
    """UTF-8 (with or without BOM), else whatever encoding charset-normalizer detects (GBK, Big5, Latin-1...)."""
    if b"\x00" in body[:8192] and not body.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InvalidRequest("This file looks binary, not text; upload a PDF, a plain text or a Markdown file.",
                             reason="unsupported_file")
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(body).best()
    if best is None:
        raise InvalidRequest("The file's text encoding could not be recognised; save it as UTF-8 and upload again.",
                             reason="unknown_encoding")
    return str(best)


def _pdf_sections(body: bytes) -> Document:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(body))
        if reader.is_encrypted and not reader.decrypt(""):
            raise InvalidRequest("The PDF is password-protected; upload an unprotected copy.", reason="pdf_encrypted")
        sections = []
        for number, page in enumerate(reader.pages, 1):
            text = (page.extract_text() or "").strip()
            if text:
                sections.append(Section(text, number))
        title = str((reader.metadata or {}).get("/Title") or "") if reader.metadata else ""
    except InvalidRequest:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError) as e:
        raise InvalidRequest(f"This PDF could not be read ({e.__class__.__name__}); it may be damaged.",
                             reason="pdf_unreadable") from e
    if not sections:
        raise InvalidRequest("PDF has no extractable text (scanned pages need OCR first).", reason="pdf_no_text")
    return Document(tuple(sections), title)


def _html_document(body: bytes) -> Document:
    import trafilatura

    text = trafilatura.extract(body, output_format="markdown", include_comments=False, include_tables=True)
    if not text or not text.strip():
        text = trafilatura.extract(body, output_format="markdown", favor_recall=True)
    if not text or not text.strip():
        raise InvalidRequest("The page has no main text we could extract.", reason="no_text")
    meta = trafilatura.extract_metadata(body)
    return Document((Section(text),), (meta.title or "") if meta else "")


def _extract(body: bytes, content_type: str) -> Document:
    if content_type == PDF:
        return _pdf_sections(body)
    if content_type == HTML:
        return _html_document(body)
    text = decode_text(body)
    if not text.strip():
        raise InvalidRequest("The document has no text to index.", reason="no_text")
    return Document((Section(text),))


class DocumentExtractor:
    """core.knowledge_ports.Extractor; parsing runs in a worker thread."""

    async def extract(self, body: bytes, content_type: str) -> Document:
        return await asyncio.to_thread(_extract, body, content_type)
