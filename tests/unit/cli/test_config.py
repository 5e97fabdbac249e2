"""The CLI's settings: flags over environment over the config file's profile, and what each must be."""

from __future__ import annotations

from pathlib import Path

import pytest

from interconnect_cli.config import ConfigError, Settings, app_url, full_scope, resolve

PROFILES = """
profile = "prod"

[profiles.prod]
url = "https://func-prod.azurewebsites.net"
scope = "api://interconnect-prod"
auth = "cli"
function_key = "file-key"

[profiles.local]
url = "http://127.0.0.1:7071/api/"
demo_user = "alice"
identity_url = "http://127.0.0.1:7079"
"""


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / ".config" / "interconnect").mkdir(parents=True)
    return tmp_path


def write(home: Path, text: str) -> Path:
    path = home / ".config" / "interconnect" / "config.toml"
    path.write_text(text)
    return path


def settle(
    home: Path, flags: dict[str, str | None] | None = None, env: dict[str, str] | None = None, **kw: str
) -> Settings:
    return resolve(flags or {}, env or {}, home, **kw)


def test_a_flag_beats_the_environment_which_beats_the_file(home: Path) -> None:
    write(home, PROFILES)
    from_file = settle(home)
    assert (from_file.url, from_file.function_key, from_file.profile) == (
        "https://func-prod.azurewebsites.net",
        "file-key",
        "prod",
    )
    assert from_file.origin["url"] == "config.toml [profiles.prod]"
    env = {"INTERCONNECT_URL": "https://env.example", "INTERCONNECT_FUNCTION_KEY": "env-key"}
    from_env = settle(home, env=env)
    assert (from_env.url, from_env.function_key, from_env.origin["url"]) == (
        "https://env.example",
        "env-key",
        "INTERCONNECT_URL",
    )
    from_flag = settle(home, {"url": "https://flag.example"}, env)
    assert (from_flag.url, from_flag.origin["url"], from_flag.function_key) == (
        "https://flag.example",
        "--url",
        "env-key",
    )


def test_the_profile_is_the_flag_else_the_environment_else_the_files_choice(home: Path) -> None:
    write(home, PROFILES)
    assert settle(home).profile == "prod"
    assert settle(home, env={"INTERCONNECT_PROFILE": "local"}).profile == "local"
    local = settle(home, env={"INTERCONNECT_PROFILE": "prod"}, profile="local")
    assert (local.profile, local.url, local.demo_user) == ("local", "http://127.0.0.1:7071", "alice")


def test_a_file_without_a_chosen_profile_uses_default_or_nothing(home: Path) -> None:
    write(home, '[profiles.default]\nurl = "https://d.example"\n[profiles.other]\nurl = "https://o.example"\n')
    assert settle(home).url == "https://d.example"
    write(home, '[profiles.other]\nurl = "https://o.example"\n')
    with pytest.raises(ConfigError, match="where is the app"):
        settle(home)


def test_the_config_file_can_be_named_and_then_must_exist(home: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "ci.toml"
    elsewhere.write_text('[profiles.default]\nurl = "https://ci.example"\n')
    assert settle(home, env={"INTERCONNECT_CONFIG": str(elsewhere)}).url == "https://ci.example"
    with pytest.raises(ConfigError, match="does not exist"):
        settle(home, config_path=str(tmp_path / "missing.toml"))


def test_xdg_config_home_moves_the_default_file(home: Path, tmp_path: Path) -> None:
    xdg = tmp_path / "xdg"
    (xdg / "interconnect").mkdir(parents=True)
    (xdg / "interconnect" / "config.toml").write_text('[profiles.default]\nurl = "https://xdg.example"\n')
    assert settle(home, env={"XDG_CONFIG_HOME": str(xdg)}).url == "https://xdg.example"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("url = 'https://x'", "unknown top-level keys"),
        ("[profiles.default]\nurll = 'https://x'", "unknown keys"),
        ("[profiles.default]\nurl = 3", "must be a string"),
        ("profile = 'nope'\n[profiles.default]\nurl = 'https://x'", r"no \[profiles.nope\]"),
        ("[profiles.default", "not valid TOML"),
    ],
)
def test_a_broken_config_file_says_what_is_wrong(home: Path, text: str, error: str) -> None:
    write(home, text)
    with pytest.raises(ConfigError, match=error):
        settle(home)


@pytest.mark.parametrize(
    ("flags", "error"),
    [
        ({}, "where is the app"),
        ({"url": "ftp://x"}, "not an http"),
        ({"url": "https://x", "auth": "magic"}, "auth must be one of"),
        ({"url": "https://x", "auth": "cli"}, "give its scope"),
        ({"url": "https://x", "demo_user": "alice"}, "identity stand-in's URL"),
        ({"url": "https://x", "demo_user": "al ice", "identity_url": "http://i"}, "demo user's name"),
        ({"url": "https://x", "scope": "api://a", "tenant_id": "contoso"}, "tenant id must be a GUID"),
        ({"url": "https://x", "function_key": "has space"}, "not a function key"),
    ],
)
def test_incomplete_or_contradictory_settings_are_refused(home: Path, flags: dict[str, str], error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        settle(home, flags)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "credential", "refused"),
    [
        ("http://func.example.net", {"function_key": "k"}, True),
        ("http://10.0.0.4:7071", {"scope": "api://a"}, True),
        ("https://func.example.net", {"function_key": "k", "scope": "api://a"}, False),
        ("http://127.0.0.1:7071", {"function_key": "k"}, False),
        ("http://localhost:7071", {"scope": "api://a"}, False),
        ("http://[::1]:7071", {"function_key": "k"}, False),
        ("http://func.example.net", {}, False),  # nothing to give away
    ],
)
def test_credentials_go_only_over_https_or_to_this_machine(
    home: Path, url: str, credential: dict[str, str], refused: bool
) -> None:
    if refused:
        with pytest.raises(ConfigError, match="unencrypted"):
            settle(home, {"url": url, **credential})  # type: ignore[arg-type]
    else:
        assert settle(home, {"url": url, **credential}).url == url  # type: ignore[arg-type]


def test_a_bad_function_key_is_never_repeated() -> None:
    with pytest.raises(ConfigError) as raised:
        resolve({"url": "https://x", "function_key": "secret value"}, {}, Path("/nonexistent"))
    assert "secret" not in str(raised.value)


def test_auth_is_default_when_a_scope_is_set_and_a_demo_user_overrides_it(home: Path) -> None:
    assert settle(home, {"url": "https://x"}).auth == "none"
    assert settle(home, {"url": "https://x", "scope": "api://a"}).auth == "default"
    demo = settle(
        home,
        {"url": "https://x", "demo_user": "bob", "identity_url": "http://127.0.0.1:7079/"},
        {"INTERCONNECT_AUTH": "cli", "INTERCONNECT_SCOPE": "api://a"},
    )
    assert (demo.auth, demo.demo_user, demo.identity_url) == ("none", "bob", "http://127.0.0.1:7079")


def test_describe_shows_whether_a_key_is_set_never_the_key(home: Path) -> None:
    write(home, PROFILES)
    described = settle(home).describe()
    assert described["functionKey"] == "set" and "file-key" not in str(described)
    assert described["from"]["function_key"] == "config.toml [profiles.prod]"


@pytest.mark.parametrize(
    ("given", "url"),
    [
        ("https://app.example/", "https://app.example"),
        ("https://app.example/api", "https://app.example"),
        (" http://127.0.0.1:7071/api/ ", "http://127.0.0.1:7071"),
    ],
)
def test_the_url_is_the_base_without_api(given: str, url: str) -> None:
    assert app_url(given) == url


@pytest.mark.parametrize(
    ("given", "scope"),
    [
        ("api://interconnect", "api://interconnect/.default"),
        ("api://interconnect/.default", "api://interconnect/.default"),
        ("3c1a6e0d-9b2f-4e51-8d7a-1ce1dc0c00a9", "3c1a6e0d-9b2f-4e51-8d7a-1ce1dc0c00a9/.default"),
        ("api://interconnect/Links.Access", "api://interconnect/Links.Access"),
    ],
)
def test_a_bare_audience_asks_for_its_default_scope(given: str, scope: str) -> None:
    assert full_scope(given) == scope
