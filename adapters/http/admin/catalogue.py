"""Console: roles, products, the knowledge base and WeChat menu keys, changed live through the API's own services."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from aiohttp import web

from adapters.http.admin.base import console_handler, int_field, open_console, render
from adapters.http.web.base import redirect
from adapters.retrieval.extractors import kind_of
from core.domain import Product, Role
from adapters.http.admin.settings import facts_of
from core.errors import InvalidRequest
from core.knowledge import ResourceService
from core.knowledge_ports import Viewer

OPERATOR = Viewer(None, is_admin=True)   # global resources, like an admin key on /api/v1/resources


def _knowledge(services) -> ResourceService | None:
    return services.knowledge


@console_handler
async def catalogue_page(request: web.Request) -> web.StreamResponse:
    console = await open_console(request)
    services = console.services
    kb = _knowledge(services)
    resources = (await kb.list(OPERATOR, 100)).items if kb else ()
    facts = facts_of(request)
    menu = dict(facts.wechat_menu)
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


@console_handler
async def save_role(request: web.Request) -> web.StreamResponse:
    console = await open_console(request)
    form = await console.form()
    role = Role(_text(form, "name", 100, True), _text(form, "description", 2000),
                _text(form, "system_prompt", 20000, True), _text(form, "model", 100) or None)
    await console.services.admin.put_role(console.actor, role)
    return redirect("/admin/catalogue#roles")


@console_handler
async def delete_role(request: web.Request) -> web.StreamResponse:
    console = await open_console(request)
    await console.form()
    await console.services.admin.delete_role(console.actor, request.match_info["name"])
    return redirect("/admin/catalogue#roles")


@console_handler
async def save_product(request: web.Request) -> web.StreamResponse:
    console = await open_console(request)
    form = await console.form()
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
    return redirect("/admin/catalogue#products")


@console_handler
async def remove_product(request: web.Request) -> web.StreamResponse:
    console = await open_console(request)
    await console.form()
    await console.services.admin.remove_product(console.actor, request.match_info["product_id"])
    return redirect("/admin/catalogue#products")


@console_handler
async def add_resource(request: web.Request) -> web.StreamResponse:
    """A file (PDF, txt, md) or a web page for the global knowledge base; it is indexed in the background."""
    console = await open_console(request)
    await console.form()     # the CSRF check; aiohttp keeps the parsed body, the file part included
    posted = await request.post()
    kb = _knowledge(console.services)
    if kb is None:
        raise InvalidRequest("The knowledge base is off in this configuration.")
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
    return redirect("/admin/catalogue#knowledge")


@console_handler
async def delete_resource(request: web.Request) -> web.StreamResponse:
    console = await open_console(request)
    await console.form()
    kb = _knowledge(console.services)
    if kb is None:
        raise InvalidRequest("The knowledge base is off in this configuration.")
    resource = await kb.get(OPERATOR, request.match_info["resource_id"])
    await kb.delete(OPERATOR, resource.id)
    await console.services.admin.record(console.actor, "resource.delete", f"resource:{resource.id}",
                                        {"name": resource.name, "source": resource.source}, None)
    return redirect("/admin/catalogue#knowledge")


def install(app: web.Application) -> None:
    app.router.add_get("/admin/catalogue", catalogue_page)
    app.router.add_post("/admin/roles", save_role)
    app.router.add_post("/admin/roles/{name}/delete", delete_role)
    app.router.add_post("/admin/products", save_product)
    app.router.add_post("/admin/products/{product_id}/remove", remove_product)
    app.router.add_post("/admin/resources", add_resource)
    app.router.add_post("/admin/resources/{resource_id}/delete", delete_resource)
