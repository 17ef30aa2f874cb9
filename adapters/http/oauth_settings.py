"""The `security.oauth_providers[]` entries of config.yaml: a generic OAuth2 login provider, read by this adapter."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class OAuthProviderConfig(BaseModel):
    """A generic OAuth2 (authorization code) login provider."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9_-]{1,26}$")
    client_id: str
    client_secret: str = ""
    authorize_url: str
    token_url: str
    userinfo_url: str
    scope: str = ""
    id_field: str = "id"
    name_field: str = "name"
