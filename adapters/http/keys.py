"""The HTTP adapter's typed app keys: the settings and services its handlers read, filled by bot/app.py."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from adapters.coordination.ports import Coordination
    from adapters.http.streams import ReplyStreams
    from adapters.http.web.sessions import Sessions
    from adapters.llm.failover import FailoverChatModel
    from adapters.wechat.oauth import WeChatWebOAuth
    from adapters.wechatpay.gateway import WeChatPayGateway
    from adapters.metrics import Metrics
    from core.accounts import AccountService
    from core.admin import AdminService
    from core.admin_access import AccessGuard
    from core.auth import ApiKeyService, TokenSigner
    from core.catalog import ModelCatalog
    from core.chat import ChatEngine
    from core.commands import CommandService
    from core.conversations import ConversationService
    from core.files import AttachmentService
    from core.i18n import Texts
    from core.knowledge import ResourceService
    from core.limits import FailureLimiter
    from core.login import QrLoginService
    from core.media import MediaService
    from core.model_choice import ModelChoiceService
    from core.orders import OrderService
    from core.own_keys import OwnKeyService
    from core.ports import EphemeralStore, LedgerRepository, MessageRepository
    from core.providers import ProviderRegistry
    from core.quota import QuotaLedger
    from core.sign_in import SignInLinkService
    from core.usage_limits import UsageLimits


@dataclass(frozen=True)
class HttpSettings:
    """The few config values the handlers read (bot/app.py copies them from config.yaml)."""

    public_url: str
    trusted_proxies: tuple[str, ...] = ()
    admin_api_keys: tuple[str, ...] = ()
    admin_session_seconds: int = 3600
    token_secret: str = ""
    token_ttl: int = 86400
    shutdown_grace_seconds: float = 10.0
    max_upload_mb: int = 20
    telegram_enabled: bool = False
    wechat_enabled: bool = False      # WeChat sign-in by QR, and the landing page's list of channels
    dify_enabled: bool = False        # at least one Dify app key is configured


@dataclass(frozen=True)
class HttpServices:
    """The core services (and the HTTP adapter's own) that handlers call; built once by bot/http_wiring.py."""

    accounts: AccountService
    conversations: ConversationService
    engine: ChatEngine
    orders: OrderService
    catalog: ModelCatalog
    quota: QuotaLedger
    messages: MessageRepository
    ledger: LedgerRepository
    ephemeral: EphemeralStore
    coordination: Coordination
    metrics: Metrics
    qr_login: QrLoginService
    texts: Texts
    commands: CommandService
    failures: FailureLimiter
    api_keys: ApiKeyService
    signer: TokenSigner
    streams: ReplyStreams
    sessions: Sessions
    files: AttachmentService | None = None
    llm: FailoverChatModel | None = None
    models: ModelChoiceService | None = None
    providers: ProviderRegistry | None = None
    own_keys: OwnKeyService | None = None
    limits: UsageLimits | None = None
    sign_in: SignInLinkService | None = None
    knowledge: ResourceService | None = None
    media: MediaService | None = None
    wechatpay: WeChatPayGateway | None = None    # payments.wechatpay: the notify webhook and JSAPI signing
    wechat_oauth: WeChatWebOAuth | None = None   # the pages' WeChat sign-in, when the WeChat channel is on
    access: AccessGuard | None = None
    admin: AdminService | None = None
    queries: Any = None        # adapters.storage.reports.TortoiseOperatorQueries: the console's reports
    recent_logs: Any = None    # the last warnings of this process (bot/log_buffer.py), for the console's health


SETTINGS = web.AppKey("http_settings", HttpSettings)
SERVICES = web.AppKey("http_services", HttpServices)


def services_of(request: web.Request) -> HttpServices:
    """The services, from any app or sub-app (they are set on the main app at start-up)."""
    return request.config_dict[SERVICES]


def settings_of(request: web.Request) -> HttpSettings:
    return request.config_dict[SETTINGS]
