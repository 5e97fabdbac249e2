"""Pacing by ARM's remaining-budget header: calls slow down only when the subscription's bucket runs low."""

from __future__ import annotations

from types import SimpleNamespace

from interconnect.adapters.avs import RemainingBudgetPacing

SUB = "/subscriptions/11111111-1111-1111-1111-111111111111/providers/Microsoft.AVS/privateClouds"


def call(method: str, url: str, remaining: str | None = None) -> tuple[SimpleNamespace, SimpleNamespace]:
    request = SimpleNamespace(http_request=SimpleNamespace(method=method, url=f"http://arm{url}"))
    headers = (
        {}
        if remaining is None
        else {f"x-ms-ratelimit-remaining-subscription-{'reads' if method == 'GET' else 'writes'}": remaining}
    )
    return request, SimpleNamespace(http_response=SimpleNamespace(headers=headers))


def test_no_pause_while_the_budget_is_healthy_and_a_growing_pause_as_it_empties() -> None:
    pauses: list[float] = []
    pacing = RemainingBudgetPacing(sleep=pauses.append)
    for remaining in ("40", "4", "0"):
        request, response = call("GET", SUB, remaining)
        pacing.on_request(request)
        pacing.on_response(request, response)
    pacing.on_request(call("GET", SUB)[0])
    assert pauses == [RemainingBudgetPacing.STEP * 1, RemainingBudgetPacing.STEP * 5]


def test_reads_and_writes_and_subscriptions_are_paced_apart() -> None:
    pauses: list[float] = []
    pacing = RemainingBudgetPacing(sleep=pauses.append)
    request, response = call("GET", SUB, "0")
    pacing.on_request(request)
    pacing.on_response(request, response)
    pacing.on_request(call("PUT", SUB)[0])  # writes have their own bucket
    pacing.on_request(call("GET", SUB.replace("1111", "2222"))[0])  # another subscription
    pacing.on_request(call("GET", "/providers/Microsoft.AVS/operations")[0])  # not a subscription call
    assert pauses == []
    pacing.on_request(call("GET", SUB)[0])
    assert pauses == [RemainingBudgetPacing.STEP * RemainingBudgetPacing.LOW]
