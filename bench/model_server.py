"""The fake OpenAI-compatible model server in its own process, answering with scripted latency.

    python -m bench.model_server --first-delay 0.1 --chunk-delay 0.01 --chunks 20

Prints one line `READY <base_url>` when it listens, then serves until SIGTERM/SIGINT. Every reply has
`--chunks` content chunks of `--chunk-chars` characters (one completion token each): the first arrives
`--first-delay` seconds after the request, the rest `--chunk-delay` apart.
"""
from __future__ import annotations

import argparse
import asyncio
import signal

from tests.fakes.openai_server import FakeOpenAI, Script

API_KEY = "sk-bench"
MODEL = "bench-model"


def script_of(first_delay: float, chunk_delay: float, chunks: int, chunk_chars: int) -> Script:
    reply = ("lorem ipsum dolor sit amet " * (1 + chunks * chunk_chars // 27))[: chunks * chunk_chars]
    return Script(reply=reply, chunk_chars=chunk_chars, first_delay=first_delay, chunk_delay=chunk_delay)


async def serve(args: argparse.Namespace) -> None:
    fake = FakeOpenAI(api_key=API_KEY, default=script_of(args.first_delay, args.chunk_delay, args.chunks,
                                                          args.chunk_chars))
    await fake.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"READY {fake.base_url}", flush=True)
    try:
        while not stop.is_set():
            # The fake records every request for tests; a benchmark sends tens of thousands, so forget them.
            fake.received.clear()
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
            except asyncio.TimeoutError:
                pass
    finally:
        await fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--first-delay", type=float, default=0.0)
    parser.add_argument("--chunk-delay", type=float, default=0.0)
    parser.add_argument("--chunks", type=int, default=8)
    parser.add_argument("--chunk-chars", type=int, default=4)
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
