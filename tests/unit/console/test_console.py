"""The console's pure parts: which files are served under which name, ETag matching, and the page's policy."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from interconnect.console import assets
from interconnect.console.signin import SignIn, SignInEndpoints, content_security_policy, origin, scope_for


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    static = tmp_path / "static"
    static.mkdir()
    for name in ("index.html", "app.js", "app.css", "logo.svg", "views-2.js", ".hidden.js", "README.md", "Big.JS"):
        (static / name).write_text(name)
    (static / "nested").mkdir()
    (static / "nested" / "x.js").write_text("x")
    (tmp_path / "secret.js").write_text("secret")
    (static / "link.js").symlink_to(tmp_path / "secret.js")
    return static


def test_the_allow_list_is_the_plain_named_files_of_known_types(folder: Path) -> None:
    assert assets.allowed_names(folder) == {"index.html", "app.js", "app.css", "logo.svg", "views-2.js"}


def test_the_page_is_not_an_asset_and_assets_carry_their_type(folder: Path) -> None:
    served = assets.Assets(folder)
    assert served.asset("index.html") is None
    page = served.page()
    assert page is not None and (page.mimetype, page.charset) == ("text/html", "utf-8")
    script = served.asset("app.js")
    assert script is not None and (script.mimetype, script.body) == ("text/javascript", b"app.js")
    svg = served.asset("logo.svg")
    assert svg is not None and svg.mimetype == "image/svg+xml"


@given(st.text(max_size=40))
def test_no_name_outside_the_list_is_ever_served(name: str) -> None:
    served = assets.Assets(assets.STATIC)
    found = served.asset(name)
    assert found is None or (name in assets.allowed_names() and name != assets.INDEX)


def test_the_etag_is_the_content_hash(folder: Path) -> None:
    first = assets.Assets(folder).asset("app.js")
    (folder / "app.js").write_text("changed")
    second = assets.Assets(folder).asset("app.js")
    assert first is not None and second is not None and first.etag != second.etag
    assert first.etag.startswith('"') and first.etag.endswith('"') and len(first.etag) == 34


@pytest.mark.parametrize(
    ("header", "matches"),
    [
        (None, False),
        ("", False),
        ('"abc"', True),
        ('W/"abc"', True),
        ('"x", "abc"', True),
        ("*", True),
        ('"abcd"', False),
        ("abc", False),
    ],
)
def test_if_none_match(header: str | None, matches: bool) -> None:
    assert assets.not_modified(header, '"abc"') is matches


def test_the_policy_adds_only_the_token_endpoint_origin() -> None:
    csp = content_security_policy("https://login.microsoftonline.com/tenant/oauth2/v2.0/token?x=1")
    assert "connect-src 'self' https://login.microsoftonline.com;" in csp
    assert "script-src 'self';" in csp and "unsafe" not in csp and "frame-ancestors 'none'" in csp
    assert "connect-src 'self';" in content_security_policy(None)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8123/t/oauth2/v2.0/token", "http://127.0.0.1:8123"),
        ("https://user:pw@login.example/x", "https://login.example"),
    ],
)
def test_origin(url: str, expected: str) -> None:
    assert origin(url) == expected


@pytest.mark.parametrize("url", ["javascript:alert(1)", "/relative", "https://", "data:text/html,x"])
def test_origin_refuses_what_is_no_http_url(url: str) -> None:
    with pytest.raises(ValueError):
        origin(url)


def test_the_scope_is_the_first_audience_with_default() -> None:
    assert scope_for(("api://interconnect/", "x")) == "api://interconnect/.default"
    view = SignIn(SignInEndpoints("https://a/authorize", "https://a/token"), "client", "s/.default").view()
    assert view == {
        "signIn": {
            "authorizationEndpoint": "https://a/authorize",
            "tokenEndpoint": "https://a/token",
            "clientId": "client",
            "scope": "s/.default",
        }
    }
