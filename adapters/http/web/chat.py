"""/web/chat: the conversation list, one conversation's messages, new / rename / delete / role, all through the
ConversationService the API uses. Sending, streaming, stop and 👍/👎 are the JSON API, called by static/chat.js."""
from __future__ import annotations

from aiohttp import web

from adapters.http.web.base import Page, open_page, page_handler, redirect, render
from core.errors import InvalidRequest, NotFound

LIST_LIMIT = 100
THREAD_LIMIT = 100
TITLE_MAX = 200


async def _conversations(page: Page):
    return (await page.services.conversations.list(page.user_id, LIST_LIMIT, None)).items


@page_handler
async def chat_home(request: web.Request) -> web.StreamResponse:
    """The newest conversation; with none yet, a page to start one."""
    page = await open_page(request)
    conversations = await _conversations(page)
    if conversations:
        return redirect(f"/web/chat/{conversations[0].id}")
    roles = await page.services.conversations.roles()
    return render(page, "chat.html", conversations=[], conversation=None, messages=[], roles=roles)


@page_handler
async def chat_page(request: web.Request) -> web.StreamResponse:
    page = await open_page(request)
    services = page.services
    conversation = await services.conversations.get(page.user_id, request.match_info["id"])  # another's: 404
    messages = await services.messages.recent(conversation.id, 0, THREAD_LIMIT)
    return render(page, "chat.html", conversations=await _conversations(page), conversation=conversation,
                  messages=messages, roles=await services.conversations.roles())


async def _known_role(page: Page, name: str) -> str | None:
    if not name:
        return None
    try:
        return (await page.services.conversations.role(name)).name
    except NotFound:
        raise InvalidRequest(page.t("page.chat.unknown_role"), reason="unknown_role") from None


@page_handler
async def new_conversation(request: web.Request) -> web.StreamResponse:
    page = await open_page(request)
    form = await page.form()
    role = await _known_role(page, form.get("role", ""))
    conversation = await page.services.conversations.create(page.user_id, role=role)
    return redirect(f"/web/chat/{conversation.id}")


@page_handler
async def rename(request: web.Request) -> web.StreamResponse:
    page = await open_page(request)
    form = await page.form()
    title = form.get("title", "").strip()[:TITLE_MAX]
    conversation = await page.services.conversations.update(page.user_id, request.match_info["id"], title=title)
    return redirect(f"/web/chat/{conversation.id}")


@page_handler
async def choose_role(request: web.Request) -> web.StreamResponse:
    page = await open_page(request)
    form = await page.form()
    role = await _known_role(page, form.get("role", ""))
    conversation = await page.services.conversations.update(page.user_id, request.match_info["id"], role=role)
    return redirect(f"/web/chat/{conversation.id}")


@page_handler
async def delete(request: web.Request) -> web.StreamResponse:
    page = await open_page(request)
    await page.form()
    await page.services.conversations.delete(page.user_id, request.match_info["id"])
    return redirect("/web/chat")


def install(app: web.Application) -> None:
    app.router.add_get("/web/chat", chat_home)
    app.router.add_post("/web/chat/new", new_conversation)
    app.router.add_get("/web/chat/{id}", chat_page)
    app.router.add_post("/web/chat/{id}/rename", rename)
    app.router.add_post("/web/chat/{id}/role", choose_role)
    app.router.add_post("/web/chat/{id}/delete", delete)
