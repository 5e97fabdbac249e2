"""`status` of a disconnect awaiting approval shows what it cuts, as the API's `impact` (or `impactError`) says."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner, Result

from interconnect_cli.commands import cli
from tests.unit.cli.fakeapp import RID, FakeApi, cid, error, event, ok, view

KEY = "unit-test-function-key"


def run(fake: FakeApi, *args: str) -> Result:
    base = ["--url", "https://app.test", "--function-key", KEY]
    return CliRunner().invoke(cli, [*base, *args], obj={"transport": fake.transport}, catch_exceptions=False)


def side(name: str, routed: list[tuple[str, str]], unreadable: list[str] | None = None) -> dict[str, Any]:
    return {
        "cloud": cid(name),
        "routed": [{"prefix": p, "source": s} for p, s in routed],
        "unreadable": unreadable or [],
    }


def awaiting(**extra: Any) -> dict[str, Any]:
    return view(
        "AwaitingApproval",
        [event(1, "Accepted", "2026-01-01T00:00:00+00:00"), event(2, "AwaitingApproval", "2026-01-01T00:00:01+00:00")],
        action="disconnect",
        **extra,
    )


IMPACT = {
    "source": side("pc-a", [("10.0.0.0/22", "networkBlock"), ("192.168.10.0/24", "segment [red]web[/red]")]),
    "target": side("pc-b", [("10.0.4.0/22", "networkBlock")], ["the NSX segments of rg-avs/pc-b cannot be read (403)"]),
    "linked": "yes",
    "linkStatus": ["Active"],
    "summary": "pc-a and pc-b stop reaching each other (2 routed prefixes of pc-a, 1 routed prefix of pc-b); "
    "what pc-b routes could not all be read",
}


def test_status_of_a_disconnect_shows_what_it_cuts_on_each_side(monkeypatch: Any) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    fake = FakeApi()
    fake.on("GET", f"/api/requests/{RID}", ok(awaiting(impact=IMPACT)))
    result = run(fake, "status", RID)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "What it cuts: pc-a and pc-b stop reaching each other (2 routed prefixes of pc-a" in out
    for row in ("rg-avs/pc-a", "10.0.0.0/22", "192.168.10.0/24", "rg-avs/pc-b", "10.0.4.0/22"):
        assert row in out
    assert "segment [red]web[/red]" in out  # API text is text, never rich markup
    assert "not read rg-avs/pc-b: the NSX segments of rg-avs/pc-b cannot be read (403)" in out


def test_status_says_when_what_it_cuts_could_not_be_read() -> None:
    fake = FakeApi()
    answer = awaiting(impact=None, impactError={"code": "DEPENDENCY_UNAVAILABLE", "message": "ARM is down"})
    fake.on("GET", f"/api/requests/{RID}", ok(answer))
    out = run(fake, "status", RID).stdout
    assert "What it cuts: could not be read just now (DEPENDENCY_UNAVAILABLE: ARM is down)" in out


def test_an_unlinked_pair_is_one_line_and_a_connect_has_no_block() -> None:
    fake = FakeApi()
    unlinked = {**IMPACT, "linked": "no", "linkStatus": [], "summary": "pc-a and pc-b are not linked: cuts nothing"}
    fake.on("GET", f"/api/requests/{RID}", ok(awaiting(impact=unlinked)), ok(view("Succeeded", [], impact=None)))
    first = run(fake, "status", RID).stdout
    assert "What it cuts: pc-a and pc-b are not linked: cuts nothing" in first and "10.0.0.0/22" not in first
    assert "What it cuts" not in run(fake, "status", RID).stdout


def test_json_output_is_the_apis_answer_with_its_impact() -> None:
    fake = FakeApi()
    fake.on("GET", f"/api/requests/{RID}", ok(awaiting(impact=IMPACT)))
    result = run(fake, "-o", "json", "status", RID)
    assert json.loads(result.stdout)["impact"] == IMPACT


def test_an_error_answer_is_still_an_error() -> None:
    fake = FakeApi()
    fake.on("GET", f"/api/requests/{RID}", error(404, "REQUEST_NOT_FOUND", "no request"))
    assert run(fake, "status", RID).exit_code == 8
