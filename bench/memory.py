"""(5) Memory: RSS of the platform process at start, with the embedding model loaded, after N conversations."""
from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp

from bench.harness import ZERO_MODEL, Settings, loadgen, model_server
from bench.platform import ADMIN_KEY, database, platform
from bench.procs import rss_mb
from bench.ref import trees

KB_TEXT = ("The benchmark knowledge base. Tea grows in Yunnan and Fujian; oolong is partly oxidised. "
           "基准测试知识库：茶叶产于云南和福建。") * 20


async def first_message(base_url: str) -> str | None:
    """One user, one conversation, one message; None when it worked, else why not."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        async with http.post(f"{base_url}/api/v1/users", json={"name": "mem"}, headers={"X-API-Key": ADMIN_KEY}) as r:
            if r.status != 201:
                return f"POST /api/v1/users answered {r.status}"
            key = (await r.json())["api_key"]
        async with http.post(f"{base_url}/api/v1/conversations", json={}, headers={"X-API-Key": key}) as r:
            cid = (await r.json())["id"]
        async with http.post(f"{base_url}/api/v1/conversations/{cid}/messages", json={"content": "hi"},
                             headers={"X-API-Key": key}) as r:
            return None if r.status == 200 else f"the first message answered {r.status}"


async def _load_embedding_model(base_url: str, timeout: float = 240) -> dict:
    """Ingest a small global text resource (the embedding model loads to index it), then ask one question."""
    headers = {"X-API-Key": ADMIN_KEY}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        async with http.post(f"{base_url}/api/v1/resources", headers=headers,
                             json={"name": "bench-kb", "source": "text", "content": KB_TEXT}) as r:
            if r.status == 404:
                return {"skipped": "POST /api/v1/resources is not there: the knowledge base has not landed"}
            if r.status != 202:
                return {"skipped": f"POST /api/v1/resources answered {r.status}: {(await r.text())[:200]}"}
            rid = (await r.json())["id"]
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            async with http.get(f"{base_url}/api/v1/resources/{rid}", headers=headers) as r:
                status = (await r.json()).get("status")
            if status in ("ready", "failed"):
                return {"resource_status": status, "index_seconds": round(time.monotonic() - t0, 1)}
            await asyncio.sleep(0.25)
    return {"skipped": f"the resource was not indexed within {timeout:.0f} s"}


async def _conversations(s: Settings, model_url: str, label: str, tree: Path | None) -> dict:
    out: dict = {}
    async with database("sqlite", s.workdir) as url, \
            platform(url, model_url, s.workdir, s.logs, label=label, tree=tree) as plat:
        await asyncio.sleep(1.0)
        out["rss_start_mb"] = round(rss_mb(plat.pid), 1)
        problem = await first_message(plat.url)
        if problem:
            return {**out, "failed": problem}
        out["rss_after_first_message_mb"] = round(rss_mb(plat.pid), 1)
        # Each conversation is one POST /conversations and one message (turns=1), 32 users at a time.
        run = await loadgen({"target": "api", "base_url": plat.url, "admin_key": ADMIN_KEY, "concurrency": 32,
                             "turns": 1, "max_requests": s.conversations, "duration": 600, "warmup": 0})
        out["conversations_run"] = {k: run.get(k) for k in ("ok", "errors", "throughput_rps", "window_s", "failed")}
        out["rss_after_conversations_mb"] = round(rss_mb(plat.pid), 1)
        await asyncio.sleep(2.0)
        out["rss_after_conversations_idle_mb"] = round(rss_mb(plat.pid), 1)
    return out


async def run(s: Settings) -> dict:
    out: dict = {"database": "sqlite", "conversations": s.conversations}
    async with model_server(s, "model-memory", ZERO_MODEL) as model:
        # The git ref's code, the same way (bench/ref.py), for "RSS within 10% of the ref's".
        async with trees(s) as checkouts:
            for name, tree in checkouts.items():
                measured = await _conversations(s, model.url, f"memory-{len(out)}", tree)
                if tree is None:
                    out.update(measured)
                    if "failed" in measured:
                        return out
                else:
                    out["ref"] = {"name": name, **measured}
        # The embedding model in a platform of its own: with a global resource every later message would
        # also embed its question, which is the knowledge base's cost, not the per-conversation memory.
        async with database("sqlite", s.workdir) as url, \
                platform(url, model.url, s.workdir, s.logs, label="memory-kb") as plat:
            await asyncio.sleep(1.0)
            before = rss_mb(plat.pid)
            kb = await _load_embedding_model(plat.url)
            out["embedding"] = kb
            if "skipped" not in kb:
                out["rss_kb_start_mb"] = round(before, 1)
                out["rss_with_embedding_model_mb"] = round(rss_mb(plat.pid), 1)
    return out
