"""Where the CLI finds the app and how it signs in: each setting from a flag, else the environment, else the
config file's profile.

    setting        flag              environment                  config file key
    url            --url             INTERCONNECT_URL             url
    function key   --function-key    INTERCONNECT_FUNCTION_KEY    function_key
    auth           --auth            INTERCONNECT_AUTH            auth
    scope          --scope           INTERCONNECT_SCOPE           scope
    tenant         --tenant-id       INTERCONNECT_TENANT_ID       tenant_id
    client id      --client-id       INTERCONNECT_CLIENT_ID       client_id
    demo user      --demo-user       INTERCONNECT_DEMO_USER       demo_user
    identity URL   --identity-url    INTERCONNECT_IDENTITY_URL    identity_url

The config file is `--config`, else INTERCONNECT_CONFIG, else `$XDG_CONFIG_HOME/interconnect/config.toml`
(`~/.config/interconnect/config.toml`). It holds profiles; the one used is `--profile`, else
INTERCONNECT_PROFILE, else the file's top-level `profile`, else `default`:

    profile = "prod"

    [profiles.prod]
    url = "https://func-interconnect-prod.azurewebsites.net"
    scope = "api://interconnect-prod/.default"
    auth = "cli"

    [profiles.local]
    url = "http://127.0.0.1:7071"
    demo_user = "alice"
    identity_url = "http://127.0.0.1:7079"

Pure: the environment and the file's text are handed in, so the layering is tested without touching either.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

AUTH_METHODS = ("none", "cli", "device", "managed", "default")
ENV = {
    "url": "INTERCONNECT_URL",
    "function_key": "INTERCONNECT_FUNCTION_KEY",
    "auth": "INTERCONNECT_AUTH",
    "scope": "INTERCONNECT_SCOPE",
    "tenant_id": "INTERCONNECT_TENANT_ID",
    "client_id": "INTERCONNECT_CLIENT_ID",
    "demo_user": "INTERCONNECT_DEMO_USER",
    "identity_url": "INTERCONNECT_IDENTITY_URL",
}
CONFIG_ENV = "INTERCONNECT_CONFIG"
PROFILE_ENV = "INTERCONNECT_PROFILE"
DEFAULT_PROFILE = "default"
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_DEMO_USER = re.compile(r"[A-Za-z0-9_-]{1,40}")


class ConfigError(Exception):
    """The configuration is incomplete or contradicts itself: bad usage (exit 2), with what to set where."""


@dataclass(frozen=True)
class Settings:
    url: str
    function_key: str | None = None
    auth: str = "none"
    scope: str | None = None
    tenant_id: str | None = None
    client_id: str | None = None
    demo_user: str | None = None
    identity_url: str | None = None
    profile: str | None = None
    # Where each setting came from ("--url", "INTERCONNECT_URL", "config.toml [profiles.prod]"), for messages.
    origin: dict[str, str] = field(default_factory=dict, compare=False)

    def describe(self) -> dict[str, Any]:
        """The settings fit to show: the function key only as whether it is set and where from."""
        shown: dict[str, Any] = {
            "url": self.url,
            "auth": "demo" if self.demo_user else self.auth,
            "scope": self.scope,
            "tenantId": self.tenant_id,
            "clientId": self.client_id,
            "demoUser": self.demo_user,
            "identityUrl": self.identity_url,
            "functionKey": "set" if self.function_key else None,
            "profile": self.profile,
        }
        return {k: v for k, v in shown.items() if v is not None} | {"from": dict(self.origin)}


def default_config_path(env: Mapping[str, str], home: Path) -> Path:
    base = env.get("XDG_CONFIG_HOME") or str(home / ".config")
    return Path(base) / "interconnect" / "config.toml"


def read_config_file(flag_path: str | None, env: Mapping[str, str], home: Path) -> tuple[Path, str | None, bool]:
    """(path, its text or None when absent, whether it was named explicitly). A file named by --config or
    INTERCONNECT_CONFIG must exist; the default one may not."""
    named = flag_path or env.get(CONFIG_ENV)
    path = Path(named).expanduser() if named else default_config_path(env, home)
    try:
        return path, path.read_text(encoding="utf-8"), bool(named)
    except FileNotFoundError:
        if named:
            raise ConfigError(f"config file {path} does not exist") from None
        return path, None, False
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None


def profile_settings(text: str | None, path: Path, wanted: str | None) -> tuple[str | None, dict[str, str]]:
    """The chosen profile's name and settings from the config file's text. A profile asked for by name must
    exist; without a file, or with the implicit `default` missing, there are none."""
    if text is None:
        if wanted:
            raise ConfigError(f"profile {wanted!r} asked for, but there is no config file ({path})")
        return None, {}
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    unknown = set(document) - {"profile", "profiles"}
    if unknown:
        raise ConfigError(f"config file {path}: unknown top-level keys {sorted(unknown)}; use [profiles.<name>]")
    profiles = document.get("profiles", {})
    if not isinstance(profiles, dict):
        raise ConfigError(f"config file {path}: `profiles` must be tables, [profiles.<name>]")
    chosen = wanted or document.get("profile")
    if chosen is not None and not isinstance(chosen, str):
        raise ConfigError(f"config file {path}: `profile` must be a profile's name")
    if chosen is None:
        chosen = DEFAULT_PROFILE if DEFAULT_PROFILE in profiles else None
        if chosen is None:
            return None, {}
    if chosen not in profiles:
        raise ConfigError(f"config file {path} has no [profiles.{chosen}]; it has {sorted(profiles) or 'none'}")
    table = profiles[chosen]
    if not isinstance(table, dict):
        raise ConfigError(f"config file {path}: [profiles.{chosen}] must be a table")
    bad = sorted(set(table) - set(ENV))
    if bad:
        raise ConfigError(f"config file {path} [profiles.{chosen}]: unknown keys {bad}; known: {sorted(ENV)}")
    for key, value in table.items():
        if not isinstance(value, str):
            raise ConfigError(f"config file {path} [profiles.{chosen}]: {key} must be a string")
    return chosen, dict(table)


def resolve(
    flags: Mapping[str, str | None],
    env: Mapping[str, str],
    home: Path,
    *,
    config_path: str | None = None,
    profile: str | None = None,
) -> Settings:
    """The settings: each from `flags` (None: not given), else `env`, else the config file's profile."""
    path, text, _ = read_config_file(config_path, env, home)
    wanted = profile or env.get(PROFILE_ENV) or None
    chosen, from_file = profile_settings(text, path, wanted)
    values: dict[str, str] = {}
    origin: dict[str, str] = {}
    for key, variable in ENV.items():
        flag = flags.get(key)
        if flag:
            values[key], origin[key] = flag, "--" + key.replace("_", "-")
        elif env.get(variable):
            values[key], origin[key] = env[variable], variable
        elif from_file.get(key):
            values[key], origin[key] = from_file[key], f"{path.name} [profiles.{chosen}]"
    return checked(values, origin, chosen)


def checked(values: Mapping[str, str], origin: dict[str, str], profile: str | None) -> Settings:
    """Settings from layered values, held to what each must be; a ConfigError says which to fix and where."""

    def where(key: str) -> str:
        return f" (from {origin[key]})" if key in origin else ""

    url = values.get("url")
    if not url:
        raise ConfigError(
            "where is the app? Give --url, set INTERCONNECT_URL, or put url in a config file profile "
            "(e.g. --url http://127.0.0.1:7071 for `make run`)"
        )
    url = app_url(url, where("url"))
    auth = values.get("auth", "").strip().lower() or None
    if auth is not None and auth not in AUTH_METHODS:
        raise ConfigError(f"auth must be one of {', '.join(AUTH_METHODS)}{where('auth')}")
    scope = values.get("scope") or None
    demo_user = values.get("demo_user") or None
    identity_url = values.get("identity_url") or None
    if demo_user is not None:
        # The demo identities stand in for Entra on the local cloud only; they override any `auth`.
        if not _DEMO_USER.fullmatch(demo_user):
            raise ConfigError(f"demo user must be a demo user's name, like alice{where('demo_user')}")
        if identity_url is None:
            raise ConfigError(
                "--demo-user needs the identity stand-in's URL: --identity-url or INTERCONNECT_IDENTITY_URL "
                "(`make run` prints it, e.g. http://127.0.0.1:7079)"
            )
        identity_url = app_url(identity_url, where("identity_url"), strip_api=False)
        auth = "none"
    if auth is None:
        auth = "default" if scope else "none"
    if auth != "none" and not scope:
        raise ConfigError(
            f"--auth {auth} signs in to Entra for the app's API: give its scope with --scope or "
            "INTERCONNECT_SCOPE (e.g. api://<application id URI>/.default)"
        )
    for key in ("tenant_id", "client_id"):
        if values.get(key) and not _GUID.fullmatch(values[key]):
            raise ConfigError(f"{key.replace('_', ' ')} must be a GUID{where(key)}")
    function_key = values.get("function_key") or None
    if function_key is not None and (len(function_key) > 500 or not function_key.isprintable() or " " in function_key):
        raise ConfigError(f"the function key is not a function key{where('function_key')}")  # never echoed
    if (function_key or auth != "none") and not _private_channel(url):
        # A key or token sent in the clear is a key or token given away: only https, or this machine.
        raise ConfigError(
            f"{url} is plain http to another machine, and the function key or Entra token would cross the "
            f"network unencrypted: use https{where('url')}"
        )
    return Settings(
        url=url,
        function_key=function_key,
        auth=auth,
        scope=full_scope(scope) if scope else None,
        tenant_id=values.get("tenant_id") or None,
        client_id=values.get("client_id") or None,
        demo_user=demo_user,
        identity_url=identity_url,
        profile=profile,
        origin=origin,
    )


def _private_channel(url: str) -> bool:
    """https, or plain http to this machine (the local cloud)."""
    split = urlsplit(url)
    if split.scheme == "https":
        return True
    host = split.hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def app_url(given: str, where: str = "", *, strip_api: bool = True) -> str:
    """The base URL: http(s), with a host, no query; a trailing `/` (and `/api`, which the CLI adds) dropped."""
    url = given.strip().rstrip("/")
    split = urlsplit(url)
    if split.scheme not in ("http", "https") or not split.hostname or split.query or split.fragment:
        raise ConfigError(f"{url!r} is not an http(s) URL like https://<app>.azurewebsites.net{where}")
    if strip_api and url.lower().endswith("/api"):
        url = url[: -len("/api")]
    return url


def full_scope(scope: str) -> str:
    """What to ask Entra for: a bare client id or application id URI means its `/.default` scope."""
    scope = scope.strip()
    if _GUID.fullmatch(scope):
        return f"{scope}/.default"
    if scope.startswith("api://") and "/" not in scope[len("api://") :]:
        return f"{scope}/.default"
    return scope
