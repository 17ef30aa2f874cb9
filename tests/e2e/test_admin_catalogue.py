"""The console's catalogue forms over real HTTP: a product saved and removed, a role deleted, a bad form refused
as a console page, a knowledge-base form with nothing in it refused; each change in the audit log."""
from __future__ import annotations

from decimal import Decimal

from tests.e2e.test_admin_console import console, page, post, sign_in  # noqa: F401  (console is a fixture)


async def test_a_product_is_saved_and_removed_and_a_bad_price_changes_nothing(console) -> None:
    running, http = console
    await sign_in(http)
    form = {"id": "pack-9", "name": "Pack nine", "price": "9.9", "tokens": "9000", "storage_mb": "0", "stars": "0"}
    r = await post(http, "/admin/products", form, "/admin/catalogue")
    assert r.status == 303 and r.headers["Location"] == "/admin/catalogue#products"
    saved = {p.id: p for p in await running.services.admin.products()}["pack-9"]
    assert saved.price == Decimal("9.90") and saved.tokens == 9000
    async with http.post("/admin/products", data={**form, "price": "lots"}, allow_redirects=False) as bad:
        assert bad.status == 403   # no CSRF token: refused before the form is read
    r = await post(http, "/admin/products", {**form, "price": "-1", "tokens": "1"}, "/admin/catalogue")
    assert r.status == 400
    assert {p.id: p for p in await running.services.admin.products()}["pack-9"].tokens == 9000
    r = await post(http, "/admin/products/pack-9/remove", {}, "/admin/catalogue")
    assert r.status == 303 and r.headers["Location"] == "/admin/catalogue#products"
    entries = (await running.services.admin.audit.list(10, action="product.remove")).items
    assert [e.target for e in entries] == ["product:pack-9"]


async def test_a_role_is_saved_then_deleted(console) -> None:
    running, http = console
    await sign_in(http)
    r = await post(http, "/admin/roles", {"name": "poet", "system_prompt": "Rhyme."}, "/admin/catalogue")
    assert r.status == 303 and r.headers["Location"] == "/admin/catalogue#roles"
    assert (await running.services.repos.roles.get("poet")).system_prompt == "Rhyme."
    r = await post(http, "/admin/roles/poet/delete", {}, "/admin/catalogue")
    assert r.status == 303 and r.headers["Location"] == "/admin/catalogue#roles"
    assert await running.services.repos.roles.get("poet") is None
    assert len((await running.services.admin.audit.list(10, action="role.delete")).items) == 1


async def test_a_resource_form_without_a_file_or_address_and_an_unknown_resource_are_refused(console) -> None:
    running, http = console
    await sign_in(http)
    r = await post(http, "/admin/resources", {"name": "nothing"}, "/admin/catalogue")
    assert r.status == 400
    r = await post(http, "/admin/resources/no-such-resource/delete", {}, "/admin/catalogue")
    assert r.status == 404
    assert (await running.services.admin.audit.list(10, action="resource.add")).items == ()
