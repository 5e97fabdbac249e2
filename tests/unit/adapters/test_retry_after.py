"""ARM's Retry-After header becomes a number of seconds the worker can schedule on, or nothing."""

from __future__ import annotations

import pytest

from interconnect.adapters.avs import _retry_after
from interconnect.errors import MAX_RETRY_AFTER


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("10", 10.0),
        ("0", 0.0),
        ("2.5", 2.5),
        ("86400", MAX_RETRY_AFTER),  # capped
        ("nan", None),
        ("inf", None),
        ("-1", None),
        ("Wed, 21 Oct 2026 07:28:00 GMT", None),  # an HTTP-date: left to the poll interval
        (None, None),
    ],
)
def test_retry_after_is_a_finite_bounded_number_or_none(header: str | None, seconds: float | None) -> None:
    headers = {} if header is None else {"Retry-After": header}
    assert _retry_after(headers) == seconds
