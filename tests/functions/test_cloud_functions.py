"""GET /api/clouds?ref=: what a person typed for a private cloud, resolved to its id the way chat resolves it."""

from __future__ import annotations

from typing import Any

import azure.functions as func
import pytest

from interconnect.errors import ArmError
from tests.factories import cloud, cloud_id
from tests.functions.harness import FakeApp, answer, error_of, request


def resolve(app: FakeApp, ref: str | None) -> func.HttpResponse:
    params = {"ref": ref} if ref is not None else None
    response: func.HttpResponse = app.call("resolve_cloud_ref", request("GET", "clouds", params=params))
    return response


@pytest.mark.parametrize("typed", ["pc-a", "PC-A", "rg-avs/pc-a", "  rg-AVS/pc-a "])
def test_a_short_name_resolves_to_the_id_of_the_one_cloud_that_has_it(app: FakeApp, typed: str) -> None:
    response = resolve(app, typed)
    assert response.status_code == 200
    assert answer(response) == {"cloud": str(app.a)}


def test_a_full_id_resolves_as_given_even_when_no_configured_subscription_has_it(app: FakeApp) -> None:
    elsewhere = cloud_id("pc-z", sub="99999999-9999-9999-9999-999999999999")
    assert answer(resolve(app, str(elsewhere))) == {"cloud": str(elsewhere)}


def test_a_name_two_clouds_share_is_409_listing_both(app: FakeApp) -> None:
    twin = cloud_id("pc-a", rg="rg-other")
    app.avs.add(cloud(twin, block="10.9.0.0/22"))
    error = error_of(resolve(app, "pc-a"), 409)
    assert error["code"] == "AMBIGUOUS_CLOUD"
    assert set(error["details"]["candidates"]) == {str(app.a), str(twin)}
    assert "rg-avs/pc-a" in error["message"] and "rg-other/pc-a" in error["message"]
    # Either one by resource group and name is not ambiguous.
    assert answer(resolve(app, "rg-other/pc-a")) == {"cloud": str(twin)}


def test_an_unknown_name_is_404_with_the_close_matches(app: FakeApp) -> None:
    error = error_of(resolve(app, "pc-aa"), 404)
    assert error["code"] == "CLOUD_NOT_FOUND"
    assert str(app.a) in error["details"]["candidates"]
    nothing_close = error_of(resolve(app, "zzzzzz"), 404)
    assert nothing_close["details"] == {"candidates": []}


@pytest.mark.parametrize("ref", [None, "", "   ", "rg-avs/..", "/subscriptions/not-a-guid/resourceGroups/x"])
def test_what_no_cloud_could_be_called_is_400(app: FakeApp, ref: str | None) -> None:
    error = error_of(resolve(app, ref), 400)
    assert error["code"] == "INVALID_CLOUD_REF"
    assert error["details"] == {"parameter": "ref"}


def test_a_ref_over_the_id_length_cap_is_400_without_echo(app: FakeApp) -> None:
    response = resolve(app, "x" * 600)
    assert error_of(response, 400)["code"] == "INVALID_QUERY"
    assert "x" * 100 not in response.get_body().decode()


def test_the_listing_is_read_once_and_shared_with_chat(app: FakeApp) -> None:
    for _ in range(3):
        assert resolve(app, "pc-b").status_code == 200
    assert app.avs.calls.count("list_clouds") == 1
    services: Any = app.services
    assert services.inbound.clouds is services.known_clouds


def test_with_no_subscription_listable_a_short_name_is_503_while_a_full_id_still_resolves(app: FakeApp) -> None:
    app.avs.refuse["list_clouds"] = ArmError("ARM is down")
    outage = resolve(app, "pc-a")
    assert error_of(outage, 503)["code"] == "DEPENDENCY_UNAVAILABLE"  # not 404: the name may well exist
    assert outage.headers.get("Retry-After")
    assert answer(resolve(app, str(app.a))) == {"cloud": str(app.a)}
    assert error_of(resolve(app, "rg-avs/.."), 400)["code"] == "INVALID_CLOUD_REF"
    del app.avs.refuse["list_clouds"]
    assert answer(resolve(app, "pc-a")) == {"cloud": str(app.a)}  # the outage was not cached
