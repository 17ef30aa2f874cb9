"""Roles and products: anyone signed in reads them, only an admin writes them (through AdminService, audited)."""
from __future__ import annotations

import dataclasses
import uuid

from aiohttp import web

from adapters.http.endpoint import Call, Endpoint, add_all
from adapters.http.paging import page_list
from adapters.http.schemas import ListQuery, PageOut
from adapters.http.schemas_commerce import ProductIn, ProductOut, ProductPatch, RoleIn, RoleOut, RolePatch
from adapters.http.keys import services_of
from core.domain import Product, Role
from core.errors import Conflict, NotFound

PRODUCT_ID = (("id", 64),)  # product ids are chosen by the operator, up to 64 characters


async def list_roles(call: Call) -> PageOut[RoleOut]:
    q: ListQuery = call.query
    roles = await services_of(call.request).conversations.roles()
    page = page_list(roles, lambda r: r.name, q.limit, q.cursor)
    return PageOut[RoleOut](data=[RoleOut.of(r) for r in page.items], cursor=page.cursor, has_more=page.has_more)


async def create_role(call: Call) -> RoleOut:
    body: RoleIn = call.body
    services = services_of(call.request)
    conversations = services.conversations
    if body.model:
        services.catalog.get(body.model)  # InvalidRequest unknown_model
    try:
        await conversations.role(body.name)
    except NotFound:
        return RoleOut.of(await services.admin.put_role(call.actor, Role(body.name, body.description,
                                                                         body.system_prompt, body.model)))
    raise Conflict(f"A role named {body.name!r} exists; change it with PATCH.", reason="already_exists")


async def get_role(call: Call) -> RoleOut:
    return RoleOut.of(await services_of(call.request).conversations.role(call.path("name")))


async def update_role(call: Call) -> RoleOut:
    body: RolePatch = call.body
    services = services_of(call.request)
    conversations = services.conversations
    role = await conversations.role(call.path("name"))
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
    if changes.get("model"):
        services.catalog.get(changes["model"])  # InvalidRequest unknown_model
    elif "model" in changes:
        changes["model"] = None  # "": back to the default model
    changed = dataclasses.replace(role, **changes)
    return RoleOut.of(await services.admin.put_role(call.actor, changed))


async def delete_role(call: Call) -> None:
    await services_of(call.request).admin.delete_role(call.actor, call.path("name"))


def _product_key(p: Product) -> str:
    return f"{p.price:015.2f}:{p.id}"  # the repository's order: price, then id


async def list_products(call: Call) -> PageOut[ProductOut]:
    q: ListQuery = call.query
    page = page_list(await services_of(call.request).orders.products(), _product_key, q.limit, q.cursor)
    return PageOut[ProductOut](data=[ProductOut.of(p) for p in page.items], cursor=page.cursor,
                               has_more=page.has_more)


async def create_product(call: Call) -> ProductOut:
    body: ProductIn = call.body
    services = services_of(call.request)
    product_id = body.id or uuid.uuid4().hex[:12]
    try:
        await services.orders.product(product_id)
    except NotFound:
        values = body.model_dump(exclude={"id"})
        return ProductOut.of(await services.admin.put_product(call.actor, Product(id=product_id, **values)))
    raise Conflict(f"A product with id {product_id!r} exists; change it with PATCH.", reason="already_exists")


async def get_product(call: Call) -> ProductOut:
    return ProductOut.of(await services_of(call.request).orders.product(call.path("id")))


async def update_product(call: Call) -> ProductOut:
    body: ProductPatch = call.body
    services = services_of(call.request)
    product = await services.orders.product(call.path("id"))
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
    return ProductOut.of(await services.admin.put_product(call.actor, dataclasses.replace(product, **changes)))


async def delete_product(call: Call) -> None:
    await services_of(call.request).admin.remove_product(call.actor, call.path("id"))


def install(app: web.Application, prefix: str) -> None:
    add_all(app, prefix, [
        Endpoint("GET", "/roles", list_roles, "Roles a conversation can take", access="any", query=ListQuery,
                 response=PageOut[RoleOut], tag="roles"),
        Endpoint("POST", "/roles", create_role, "Add a role (admin)", access="admin", body=RoleIn,
                 response=RoleOut, status=201, tag="roles"),
        Endpoint("GET", "/roles/{name}", get_role, "One role", access="any", response=RoleOut, tag="roles"),
        Endpoint("PATCH", "/roles/{name}", update_role, "Change a role (admin)", access="admin", body=RolePatch,
                 response=RoleOut, tag="roles"),
        Endpoint("DELETE", "/roles/{name}", delete_role, "Remove a role (admin)", access="admin", status=204,
                 tag="roles"),
        Endpoint("GET", "/products", list_products, "Token packs for sale", access="any", query=ListQuery,
                 response=PageOut[ProductOut], tag="products"),
        Endpoint("POST", "/products", create_product, "Add a product (admin)", access="admin", body=ProductIn,
                 response=ProductOut, status=201, tag="products"),
        Endpoint("GET", "/products/{id}", get_product, "One product", access="any", response=ProductOut,
                 tag="products", path_chars=PRODUCT_ID),
        Endpoint("PATCH", "/products/{id}", update_product, "Change a product (admin)", access="admin",
                 body=ProductPatch, response=ProductOut, tag="products", path_chars=PRODUCT_ID),
        Endpoint("DELETE", "/products/{id}", delete_product, "Withdraw a product from sale (admin)",
                 access="admin", status=204, tag="products", path_chars=PRODUCT_ID),
    ])
