"""Console: roles, products, the knowledge base and WeChat menu keys, changed live through the API's own services."""
from __future__ import annotations

import functools
from decimal import Decimal, InvalidOperation
from typing import Awaitable, Callable

from aiohttp import web

from adapters.http.admin.base import Console, Handler, console_handler, int_field, open_console, render
from adapters.http.web.base import redirect
from adapters.retrieval.extractors import kind_of
from core.domain import Product, Role
from adapters.http.admin.settings import facts_of
from core.errors import InvalidRequest
from core.knowledge import ResourceService
from core.knowledge_ports import Viewer

OPERATOR = Viewer(None, is_admin=True)   # global resources, like an admin key on /api/v1/resources
Change = Callable[[Console, dict[str, str]], Awaitable[None]]


def _knowledge(services) -> ResourceService | None:
    return services.knowledge


def _knowledge_on(services) -> ResourceService:
    kb = _knowledge(services)
    if kb is None:
        raise InvalidRequest("The knowledge base is off in this configuration.")
    return kb


@console_handler
async def catalogue_page(request: web.Request) -> web.StreamResponse:
    console = await open_console(request)
    services = console.services
    kb = _knowledge(services)
    resources = (await kb.list(OPERATOR, 100)).items if kb else ()
    facts = facts_of(request)
    menu = await services.admin.menu.all() if services.admin.menu is not None else {}
    return render(console.page, "admin_catalogue.html", roles=await services.conversations.roles(),
                  products=await services.admin.products(), resources=resources, kb=kb is not None, menu=menu,
                  wechat=facts.wechat_enabled,
                  pending=any(r.status in ("pending", "indexing") for r in resources))


def _text(form: dict[str, str], name: str, limit: int, required: bool = False) -> str:
    value = form.get(name, "").strip()
    if required and not value:
        raise InvalidRequest(f"{name} is required.")
    if len(value) > limit:
        raise InvalidRequest(f"{name} is longer than {limit} characters.")
    return value


def _change(section: str) -> Callable[[Change], Handler]:
    """A catalogue form: the operator's console, the form after its CSRF check, the change, then back to the
    catalogue at `section`. Errors come back as console pages (console_handler)."""

    def wrap(change: Change) -> Handler:
        @console_handler
        @functools.wraps(change)
        async def handle(request: web.Request) -> web.StreamResponse:
            console = await open_console(request)
            await change(console, await console.form())
            return redirect(f"/admin/catalogue#{section}")

        return handle

    return wrap


@_change("roles")
async def save_role(console: Console, form: dict[str, str]) -> None:
    role = Role(_text(form, "name", 100, True), _text(form, "description", 2000),
                _text(form, "system_prompt", 20000, True), _text(form, "model", 100) or None)
    await console.services.admin.put_role(console.actor, role)


@_change("roles")
async def delete_role(console: Console, form: dict[str, str]) -> None:
    await console.services.admin.delete_role(console.actor, console.request.match_info["name"])


@_change("products")
async def save_product(console: Console, form: dict[str, str]) -> None:
    try:
        price = Decimal(form.get("price", "").strip()).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise InvalidRequest("price must be a number such as 9.90.") from None
    if not price.is_finite() or price < 0 or price > Decimal("1000000"):
        raise InvalidRequest("price must be between 0 and 1000000.")
    product_id = _text(form, "id", 64, True)
    if not all(c.isalnum() or c in "-_" for c in product_id):
        raise InvalidRequest("id may use letters, digits, - and _ only.")
    product = Product(product_id, _text(form, "name", 200, True), _text(form, "description", 2000), price,
                      (_text(form, "currency", 8) or "CNY").upper(), int_field(form, "tokens", minimum=0),
                      int_field(form, "storage_mb", minimum=0), int_field(form, "stars", minimum=0),
                      form.get("active", "1") == "1")
    await console.services.admin.put_product(console.actor, product)


@_change("products")
async def remove_product(console: Console, form: dict[str, str]) -> None:
    await console.services.admin.remove_product(console.actor, console.request.match_info["product_id"])


@_change("knowledge")
async def add_resource(console: Console, form: dict[str, str]) -> None:
    """A file (PDF, txt, md) or a web page for the global knowledge base; it is indexed in the background."""
    posted = await console.request.post()   # aiohttp kept the parsed body, the file part included
    kb = _knowledge_on(console.services)
    name = str(posted.get("name") or "").strip()[:200]
    upload, url = posted.get("file"), str(posted.get("url") or "").strip()
    if isinstance(upload, web.FileField) and upload.filename:
        data = upload.file.read()
        kind = kind_of(upload.filename, upload.content_type or "", data[:8])
        resource, _ = await kb.add_document(OPERATOR, name=name or upload.filename, body=data, content_type=kind,
                                            source="file")
    elif url:
        resource, _ = await kb.add_url(OPERATOR, url=url, name=name)
    else:
        raise InvalidRequest("Choose a file or give a web address.")
    await console.services.admin.record(console.actor, "resource.add", f"resource:{resource.id}", None,
                                        {"name": resource.name, "source": resource.source, "url": resource.url})


@_change("knowledge")
async def delete_resource(console: Console, form: dict[str, str]) -> None:
    kb = _knowledge_on(console.services)
    resource = await kb.get(OPERATOR, console.request.match_info["resource_id"])
    await kb.delete(OPERATOR, resource.id)
    await console.services.admin.record(console.actor, "resource.delete", f"resource:{resource.id}",
                                        {"name": resource.name, "source": resource.source}, None)


@_change("menu")
async def save_menu_key(console: Console, form: dict[str, str]) -> None:
    """Add or change a WeChat menu key: the next CLICK with it runs the new action, on every worker."""
    await console.services.admin.put_menu_key(console.actor, form.get("key", ""), form.get("action", ""))


@_change("menu")
async def delete_menu_key(console: Console, form: dict[str, str]) -> None:
    await console.services.admin.delete_menu_key(console.actor, form.get("key", ""))


def install(app: web.Application) -> None:
    app.router.add_get("/admin/catalogue", catalogue_page)
    app.router.add_post("/admin/roles", save_role)
    app.router.add_post("/admin/roles/{name}/delete", delete_role)
    app.router.add_post("/admin/products", save_product)
    app.router.add_post("/admin/products/{product_id}/remove", remove_product)
    app.router.add_post("/admin/resources", add_resource)
    app.router.add_post("/admin/resources/{resource_id}/delete", delete_resource)
    app.router.add_post("/admin/menu", save_menu_key)
    app.router.add_post("/admin/menu/delete", delete_menu_key)
