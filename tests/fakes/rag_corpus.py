"""A small bilingual corpus for knowledge-base tests: documents, questions, a PDF writer and a web server."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiohttp import web

from tests.fakes.local import serve_local

EIFFEL_MD = """# The Eiffel Tower

The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris. It was designed by the
engineering company of Gustave Eiffel and completed in March 1889 for the World's Fair.

## Height

The tower is 330 metres tall and was the tallest man-made structure in the world for 41 years.
"""

PHOTOSYNTHESIS_TXT = """Photosynthesis is how green plants turn sunlight into chemical energy.
In the chloroplasts, plants use sunlight, water and carbon dioxide to make glucose, a simple sugar,
and they release oxygen as a by-product. Chlorophyll absorbs mostly red and blue light.
"""

PYTHON_TXT = """Python is a programming language created by Guido van Rossum and first released in 1991.
Its readable syntax uses indentation for blocks, and its large standard library is often described
as "batteries included". Python is popular for web servers, data analysis and scripting.
"""

PANDA_ZH = """大熊猫是中国特有的珍稀动物，主要生活在四川、陕西和甘肃的山区竹林里。
大熊猫主要吃竹子，一只成年大熊猫每天要吃十几公斤的竹笋和竹叶。它们每天有一半的时间都在进食。
"""

GREAT_WALL_ZH = """万里长城是中国古代修建的军事防御工程，始建于春秋战国时期，秦朝统一后连接成一体。
明朝又大规模重修了长城。现存的长城遗迹总长度超过两万公里，是世界上最长的建筑。
"""

# Saved as GBK: not UTF-8, so it must go through the encoding detector.
GREEN_TEA_ZH = """很多人问：绿茶应该用多少度的水冲泡？答案是八十度左右的热水最合适。
水温太高会把嫩芽烫熟，茶汤会变苦变涩；水温太低，香气又出不来。冲泡绿茶时最好使用玻璃杯，
第一泡大约浸泡两到三分钟。龙井和碧螺春都是著名的中国绿茶，产于浙江和江苏。
"""

MOON_ZH = """月球是地球唯一的天然卫星，距离地球大约三十八万公里。月球表面布满了陨石坑，
一九六九年阿波罗十一号的宇航员第一次登上了月球。"""

PDF_PAGES = [
    ["Volcanoes of Italy", "Mount Etna is an active volcano on the east coast of Sicily.",
     "It is the tallest active volcano in Europe."],
    ["Lava and rock", "Basalt forms when lava from a volcano cools quickly at the surface.",
     "Pumice is a light rock full of gas bubbles."],
]

SOURDOUGH_HTML = """<!doctype html><html><head><meta charset="utf-8"><title>Sourdough baking guide</title></head>
<body><nav><a href="/">Home</a> | <a href="/shop">Shop</a> | <a href="/login">Log in</a></nav>
<article><h1>Baking sourdough bread</h1>
<p>Sourdough bread is leavened with a starter of wild yeast and lactic acid bacteria instead of commercial yeast.</p>
<h2>How long the dough should rise</h2>
<p>After shaping, let the sourdough dough rise for four to six hours at room temperature, or overnight in the
fridge for a more sour flavour. The dough is ready when it has grown by about half and springs back slowly.</p>
</article><footer>Copyright 2024 Bread Shop. All rights reserved. Cookie settings.</footer></body></html>"""


@dataclass(frozen=True)
class Question:
    text: str
    source: str  # the resource name that must be retrieved


QUESTIONS = [
    Question("When was the Eiffel Tower completed?", "eiffel.md"),
    Question("How do green plants turn sunlight into sugar?", "photosynthesis.txt"),
    Question("Which volcano is on the east coast of Sicily?", "volcanoes.pdf"),
    Question("How long should sourdough dough rise?", "Baking sourdough bread"),
    Question("大熊猫主要吃什么食物？", "panda.txt"),
    Question("万里长城是什么时候修建的？", "great-wall.txt"),
    Question("绿茶应该用多少度的水冲泡？", "green-tea.txt"),
]


def make_pdf(pages: list[list[str]]) -> bytes:
    """A valid PDF with one text line per string (Helvetica), one page per list; [] gives a blank page."""
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled in below
    pages_id = add(b"")
    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    kids = []
    for lines in pages:
        ops = [b"BT /F1 12 Tf 72 720 Td 16 TL"]
        for line in lines:
            escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(f"({escaped}) Tj T*".encode("latin-1"))
        ops.append(b"ET")
        stream = b"\n".join(ops) if lines else b""
        content = add(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        kids.append(add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                        b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (pages_id, content, font)))
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id
    objects[pages_id - 1] = (b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % k for k in kids)
                             + b"] /Count %d >>" % len(kids))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, catalog, xref)
    return bytes(out)


class PageServer:
    """Web pages on 127.0.0.1: /sourdough, /missing (404), /huge (streams far past any limit)."""

    HUGE_TOTAL = 64 * 1024 * 1024

    def __init__(self) -> None:
        self._runner: web.AppRunner | None = None
        self.base_url = ""
        self.huge_sent = 0
        self.huge_done = asyncio.Event()

    async def _sourdough(self, request: web.Request) -> web.Response:
        return web.Response(text=SOURDOUGH_HTML, content_type="text/html")

    async def _huge(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/html; charset=utf-8"})
        await resp.prepare(request)  # chunked: no Content-Length, the size shows only while reading
        piece = ("<p>" + "filler text " * 500 + "</p>\n").encode()
        try:
            await resp.write(b"<html><body>")
            while self.huge_sent < self.HUGE_TOTAL:
                await resp.write(piece)
                self.huge_sent += len(piece)
            await resp.write(b"</body></html>")
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.huge_done.set()
        return resp

    async def __aenter__(self) -> "PageServer":
        app = web.Application()
        app.router.add_get("/sourdough", self._sourdough)
        app.router.add_get("/huge", self._huge)
        self._runner, self.base_url = await serve_local(app, handler_cancellation=True)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
