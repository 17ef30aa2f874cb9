"""The Dify-compatible chat-app API at /dify/v1 (CONTRACT 5), a sub-app with Dify's own error shape."""
from __future__ import annotations

from aiohttp import web

from bot.config import AppConfig

PREFIX = "/dify/v1"


def install(app: web.Application, config: AppConfig) -> None:
    from adapters.http.dify import app_info, chat, files, history
    from adapters.http.dify.errors import dify_error_middleware
    from adapters.http.dify.tasks import TASKS, ReplyTasks
    from bot.app import SERVICE_HOOKS

    api = web.Application(middlewares=[dify_error_middleware])
    tasks = api[TASKS] = ReplyTasks()

    async def connect_tasks(services) -> None:
        tasks.connect(services.coordination.stops())
        services.metrics.track_queue("dify_tasks", lambda: len(tasks))
        services.closers.append(tasks.close)

    app[SERVICE_HOOKS].append(connect_tasks)
    chat.add_routes(api)
    history.add_routes(api)
    app_info.add_routes(api)
    files.add_routes(api)
    app[SERVICE_HOOKS].append(_add_chat_app)
    app.add_subapp(PREFIX, api)


async def _add_chat_app(services) -> None:
    from adapters.http.dify.context import INPUTS
    from adapters.http.dify.files import FETCHER
    from adapters.http.dify.history import CHAT_APP, SUGGESTIONS
    from adapters.retrieval.fetcher import PageFetcher
    from adapters.storage.chat_app import TortoiseChatHistory, TortoiseConversationInputs
    from core.chat_app import ChatAppService
    from core.files import IMAGE_TYPES
    from core.titles import SuggestionWriter, TitleWriter

    config = services.config
    titles = TitleWriter(services.model, services.catalog, services.counter, services.quota)
    services.extras[CHAT_APP] = ChatAppService(services.conversations, TortoiseChatHistory(), titles)
    services.extras[SUGGESTIONS] = SuggestionWriter(services.model, services.catalog, services.counter, services.quota)
    services.extras[INPUTS] = TortoiseConversationInputs()
    # remote_url images come through the knowledge base's SSRF-safe fetcher, limited to images and their size.
    services.extras[FETCHER] = PageFetcher(max_bytes=config.dify.image_file_size_limit_mb * 1024 * 1024,
                                           timeout_seconds=config.rag.fetch_timeout_seconds,
                                           user_agent="chatbot-platform/dify-files", accept=tuple(IMAGE_TYPES))
