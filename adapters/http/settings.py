"""The `server` and `security` sections of config.yaml: the HTTP server (address, limits, proxies, CORS) and its keys."""
from __future__ import annotations

import ipaddress
import re

from pydantic import Field, field_validator, model_validator

from adapters.config_fields import Strict
from adapters.http.oauth_settings import OAuthProviderConfig  # security.oauth_providers[]

class ServerConfig(Strict):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    public_url: str = "http://127.0.0.1:8080"
    max_body_bytes: int = Field(1_048_576, ge=1024)
    shutdown_grace_seconds: float = Field(30.0, ge=0)
    # A streamed answer whose client hung up keeps going this long, so the client can resume it (Last-Event-ID);
    # then, if nobody resumed it, the model call is stopped and what was generated is charged. 0: stop at once.
    sse_resume_seconds: float = Field(10.0, ge=0)
    # Peers (addresses or CIDR networks) whose X-Forwarded-For is believed: the reverse proxies in front of
    # the workers ("127.0.0.1" behind the shipped nginx). Empty: the client address is the TCP peer's.
    trusted_proxies: list[str] = Field(default_factory=list)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, proxies: list[str]) -> list[str]:
        for proxy in proxies:
            try:
                ipaddress.ip_network(proxy.strip(), strict=False)
            except ValueError:
                raise ValueError(f"{proxy!r} is not an IP address or CIDR network like 10.0.0.0/8") from None
        return [p.strip() for p in proxies]
    # Browser origins allowed to call /api/v1 and /dify/v1 (CORS); empty: none. "*" allows any origin, but
    # then never with credentials. cors_allow_credentials: listed origins may send cookies / HTTP auth.
    cors_origins: list[str] = Field(default_factory=list)
    cors_allow_credentials: bool = False
    cors_max_age: int = Field(600, ge=0, le=86400)  # how long a browser may cache a preflight answer

    @model_validator(mode="after")
    def _cors_origins_are_origins(self) -> "ServerConfig":
        for origin in self.cors_origins:
            if origin != "*" and not re.fullmatch(r"https?://[^/\s?#]+", origin):
                raise ValueError(f"cors_origins: {origin!r} is not an origin like https://app.example.com (no path)")
        if self.cors_allow_credentials and "*" in self.cors_origins:
            raise ValueError("cors_allow_credentials cannot be used with the origin '*': list the origins instead")
        return self


class SecurityConfig(Strict):
    admin_api_keys: list[str] = Field(default_factory=list)
    token_secret: str = ""
    token_ttl: int = Field(86400, ge=60)
    # Encrypts the API keys stored in the database (users' own keys, providers added over the API), through
    # HKDF; empty: token_secret is used. Changing it makes the stored keys unreadable (they must be saved again).
    encryption_secret: str = ""
    admin_session_seconds: int = Field(3600, ge=1)   # the /admin console asks for the key again after this
    oauth_providers: list[OAuthProviderConfig] = Field(default_factory=list)

    @field_validator("admin_api_keys")
    @classmethod
    def _drop_empty(cls, keys: list[str]) -> list[str]:
        # "${ADMIN_API_KEY:-}" expands to "" when unset: that must never be a valid key.
        return [k for k in keys if k]

    @field_validator("oauth_providers")
    @classmethod
    def _unique_names(cls, providers: list[OAuthProviderConfig]) -> list[OAuthProviderConfig]:
        names = [p.name for p in providers]
        if len(names) != len(set(names)):
            raise ValueError("two OAuth providers have the same name")
        return providers
