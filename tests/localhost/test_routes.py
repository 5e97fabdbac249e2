"""Route-template matching and route-table resolution for HTTP triggers."""

from __future__ import annotations

import pytest

from localdev.host.routes import MethodNotAllowed, RouteMatch, RouteTable, RouteTemplate
from localdev.host.settings import ConfigError

GUID = "9b2f6a43-5a63-4c36-9a5e-0d1c2b3a4f5e"


@pytest.mark.parametrize(
    ("template", "path", "expected"),
    [
        ("items/{id}", "items/5", {"id": "5"}),
        ("items/{id}", "ITEMS/5", {"id": "5"}),  # literals are case-insensitive
        ("items/{id}", "items/5/", {"id": "5"}),  # a trailing slash is tolerated
        ("items/{id}", "items/a%20b", {"id": "a b"}),  # values are percent-decoded
        ("items/{id}", "items", None),
        ("items/{id}", "items/5/6", None),
        ("items/{id}", "other/5", None),
        ("items/{id?}", "items", {}),
        ("items/{id?}", "items/7", {"id": "7"}),
        ("items/{id=3}", "items", {"id": "3"}),
        ("items/{id=3}", "items/4", {"id": "4"}),
        ("/leading/{x}/", "leading/1", {"x": "1"}),
        ("t/{id:guid}", f"t/{GUID}", {"id": GUID}),
        ("t/{id:guid}", "t/not-a-guid", None),
        ("n/{x:int}", "n/-5", {"x": "-5"}),
        ("n/{x:int}", "n/abc", None),
        ("n/{x:int}", "n/99999999999", None),  # beyond int32
        ("n/{x:long}", "n/99999999999", {"x": "99999999999"}),
        ("n/{x:int:min(10)}", "n/9", None),
        ("n/{x:int:min(10)}", "n/10", {"x": "10"}),
        ("n/{x:range(1,3)}", "n/4", None),
        ("n/{x:bool}", "n/True", {"x": "True"}),
        ("n/{x:alpha:maxlength(3)}", "n/abcd", None),
        ("n/{x:length(2,3)}", "n/ab", {"x": "ab"}),
        ("r/{s:regex(^a+:b$)}", "r/aa:b", {"s": "aa:b"}),
        ("r/{s:regex(^a+:b$)}", "r/ab", None),
        ("files/{*path}", "files/a/b/c", {"path": "a/b/c"}),
        ("files/{*path}", "files", {}),
        ("f/{name}.{ext}", "f/a.b.c", {"name": "a.b", "ext": "c"}),
        ("f/{name}.{ext}", "f/abc", None),
        ("v{version:int}/x", "v2/x", {"version": "2"}),
        ("", "", {}),
        ("", "x", None),
    ],
)
def test_template_matching(template: str, path: str, expected: dict[str, str] | None) -> None:
    assert RouteTemplate.parse(template).match(path) == expected


@pytest.mark.parametrize(
    ("template", "complaint"),
    [
        ("a/{x:nosuch}", "unknown constraint"),
        ("a/{x:min(a)}", "integer arguments"),
        ("a/{*rest}/b", "catch-all"),
        ("a/{x?}/b", "optional"),
        ("a/{x}/{X}", "used twice"),
        ("a/{x", "braces"),
        ("a/{1x}", "invalid parameter name"),
    ],
)
def test_invalid_templates_are_startup_errors(template: str, complaint: str) -> None:
    with pytest.raises(ConfigError, match=complaint):
        RouteTemplate.parse(template)


def table(*routes: tuple[str, tuple[str, ...], str]) -> RouteTable[str]:
    result: RouteTable[str] = RouteTable()
    for template, methods, target in routes:
        result.add(RouteTemplate.parse(template), methods, target, target)
    return result


def test_the_most_specific_template_wins_whatever_the_registration_order() -> None:
    routes = table(
        ("items/{*rest}", (), "catch_all"),
        ("items/{id}", (), "by_id"),
        ("items/{id:int}", (), "by_int"),
        ("items/new", (), "new"),
    )
    assert routes.resolve("GET", "items/new") == RouteMatch("new", {})
    assert routes.resolve("GET", "items/5") == RouteMatch("by_int", {"id": "5"})
    assert routes.resolve("GET", "items/x") == RouteMatch("by_id", {"id": "x"})
    assert routes.resolve("GET", "items/x/y") == RouteMatch("catch_all", {"rest": "x/y"})


def test_functions_share_a_route_by_method_and_other_methods_are_not_allowed() -> None:
    routes = table(("things/{id}", ("GET",), "get"), ("things/{id}", ("delete",), "delete"))
    assert routes.resolve("get", "things/1") == RouteMatch("get", {"id": "1"})
    assert routes.resolve("DELETE", "things/1") == RouteMatch("delete", {"id": "1"})
    assert routes.resolve("PUT", "things/1") == MethodNotAllowed(("DELETE", "GET"))
    assert routes.resolve("GET", "nothing/here") is None


def test_a_route_without_methods_accepts_any_method() -> None:
    assert table(("any", (), "any")).resolve("PATCH", "any") == RouteMatch("any", {})


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (("a/{x}", ("GET",)), ("A/{y}", ("GET", "POST"))),
        (("a/{x:int}", ()), ("a/{y:int}", ("PUT",))),
    ],
)
def test_ambiguous_routes_are_startup_errors(
    first: tuple[str, tuple[str, ...]], second: tuple[str, tuple[str, ...]]
) -> None:
    with pytest.raises(ConfigError, match="same route"):
        table((*first, "one"), (*second, "two"))
