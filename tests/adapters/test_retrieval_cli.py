"""`bot ingest PATH_OR_URL [--name N]`: the global knowledge base from the command line, with a progress bar."""
from __future__ import annotations

import asyncio

import yaml

from bot.cli import main
from bot.wiring import open_services
from bot.knowledge import knowledge_of
from core.knowledge_ports import Viewer
from tests.conftest import make_config
from tests.fakes import rag_corpus as corpus


def test_ingest_a_file_then_again_then_a_missing_one(tmp_path, capsys) -> None:
    config = make_config(tmp_path)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config.model_dump(mode="json")), encoding="utf-8")
    doc = tmp_path / "tower.md"
    doc.write_text(corpus.EIFFEL_MD, encoding="utf-8")

    assert main(["ingest", str(doc), "--name", "Eiffel facts", "--config", str(path)]) == 0
    out = capsys.readouterr()
    assert "ingested Eiffel facts: 2 chunks" in out.out
    assert "indexing" in out.err and "2/2" in out.err  # the progress bar, on stderr

    assert main(["ingest", str(doc), "--config", str(path)]) == 0
    assert "already in the knowledge base: Eiffel facts" in capsys.readouterr().out

    assert main(["ingest", str(tmp_path / "nope.pdf"), "--config", str(path)]) == 1
    assert "no such file" in capsys.readouterr().err

    async def listed():
        async with open_services(config, background=False) as services:
            page = await knowledge_of(services).service.list(Viewer(None, is_admin=True))
            return [(r.name, r.scope, r.status) for r in page.items]

    assert asyncio.run(listed()) == [("Eiffel facts", "global", "ready")]


def test_a_failed_ingest_exits_1_with_the_reason(tmp_path, capsys) -> None:
    config = make_config(tmp_path)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config.model_dump(mode="json")), encoding="utf-8")
    pdf = tmp_path / "scan.pdf"
    pdf.write_bytes(corpus.make_pdf([[]]))
    assert main(["ingest", str(pdf), "--config", str(path)]) == 1
    assert "PDF has no extractable text" in capsys.readouterr().err
