"""Chunking, keyword terms, rank fusion and the sources line: pure core rules, no I/O."""
from __future__ import annotations

from core.chunking import Section, chunk_sections, split_sentences
from core.domain import Citation
from core.knowledge import sources_line
from core.knowledge_ports import Hit
from core.retrieval import fuse_rrf, keyword_terms


def test_chinese_splits_on_sentence_punctuation_without_spaces() -> None:
    assert split_sentences("熊猫吃竹子。它们住在四川！真的吗？是的；好") == ["熊猫吃竹子。", "它们住在四川！", "真的吗？", "是的；", "好"]
    text = "".join(f"第{i}句话讲的是一件很长很长的事情。" for i in range(40))
    chunks = chunk_sections([Section(text)], size=100, overlap=30)
    assert len(chunks) > 5 and all(len(c.text) <= 100 for c in chunks)
    assert all(c.text.endswith("。") for c in chunks)  # cut between sentences, never inside one
    assert chunks[0].text[-16:] in chunks[1].text  # consecutive chunks overlap by whole sentences


def test_headings_start_chunks_and_pages_are_kept() -> None:
    md = "# Intro\n\nFirst paragraph.\n\nSecond paragraph.\n\n## Details\n\nThe details here."
    chunks = chunk_sections([Section(md)], size=500, overlap=50)
    assert [(c.heading, c.text) for c in chunks] == [
        ("Intro", "Intro\nFirst paragraph.\nSecond paragraph."), ("Details", "Details\nThe details here.")]
    pages = chunk_sections([Section("Page one text.", 1), Section("Page two text.", 2)])
    assert [(c.page, c.position) for c in pages] == [(1, 0), (2, 1)]


def test_a_long_sentence_without_punctuation_is_cut_near_the_size() -> None:
    chunks = chunk_sections([Section("字" * 250)], size=100, overlap=20)
    assert [len(c.text) for c in chunks] == [100, 100, 50]


def test_keyword_terms_cover_chinese_trigrams_and_english_words() -> None:
    assert keyword_terms("大熊猫吃什么？") == ["大熊猫", "熊猫吃", "猫吃什", "吃什么"]
    assert keyword_terms("When was the Eiffel Tower built?") == ["eiffel", "tower", "built"]
    assert keyword_terms("熊猫 and pandas") == ["熊猫", "pandas"]


def test_reciprocal_rank_fusion_rewards_agreement() -> None:
    vector = [Hit("a", "r1", 0.9), Hit("b", "r1", 0.8), Hit("c", "r2", 0.7)]
    keyword = [Hit("c", "r2", 5.0), Hit("d", "r3", 4.0)]
    fused = fuse_rrf([vector, keyword])
    assert [h.chunk_id for h in fused] == ["c", "a", "b", "d"]  # b and d tie; the first list wins ties


def test_sources_line_names_each_document_once() -> None:
    cites = [Citation("r1", "c1", "Guide", 0.9, ""), Citation("r1", "c2", "Guide", 0.8, ""),
             Citation("r2", "c3", "FAQ (page 2)", 0.5, "")]
    assert sources_line(cites) == "Sources: Guide; FAQ (page 2)"
    assert sources_line([]) == ""
    many = [Citation(f"r{i}", "c", f"D{i}", 0.1, "") for i in range(5)]
    assert sources_line(many, limit=2) == "Sources: D0; D1 (+3)"
