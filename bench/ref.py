"""Another commit's code beside the working tree: a `git worktree` under /tmp, run with the same interpreter."""
from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from pathlib import Path
from typing import AsyncIterator

from bench.harness import Settings
from bench.procs import ROOT

DEFAULT_REF = "a19727f"     # the commit before the speed work of issue 21: what its targets are measured against


async def _git(*args: str) -> str:
    proc = await asyncio.create_subprocess_exec("git", *args, cwd=ROOT, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {err.decode(errors='replace').strip()[-400:]}")
    return out.decode().strip()


@contextlib.asynccontextmanager
async def ref_tree(ref: str) -> AsyncIterator[tuple[Path, str]]:
    """(the checkout's path, its short commit id); the worktree is removed afterwards. Nothing in the working
    tree or its index changes."""
    commit = await _git("rev-parse", "--short", f"{ref}^{{commit}}")
    holder = Path(tempfile.mkdtemp(prefix="bot-bench-ref-", dir="/tmp"))
    path = holder / "tree"
    await _git("worktree", "add", "--detach", "--quiet", str(path), commit)
    try:
        yield path, commit
    finally:
        try:
            await _git("worktree", "remove", "--force", str(path))
        finally:
            shutil.rmtree(holder, ignore_errors=True)
            with contextlib.suppress(RuntimeError):
                await _git("worktree", "prune")


@contextlib.asynccontextmanager
async def trees(s: Settings) -> AsyncIterator[dict[str, Path | None]]:
    """{"working tree": None, "ref <commit>": path}: the trees a section measures side by side. Without the ref
    (not in this clone), the working tree alone, with a note."""
    checkout = ref_tree(s.ref)
    try:
        path, commit = await checkout.__aenter__()
    except RuntimeError as e:
        s.notes.append(f"the git ref {s.ref} could not be checked out ({e}); measured the working tree only")
        yield {"working tree": None}
        return
    try:
        yield {"working tree": None, f"ref {commit}": path}
    finally:
        await checkout.__aexit__(None, None, None)
