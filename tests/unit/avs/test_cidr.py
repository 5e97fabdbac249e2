from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interconnect.avs.cidr import Prefix, find_overlaps, find_overlaps_pairwise, parse_prefix


def p(text: str, origin: str = "t") -> Prefix:
    return parse_prefix(text, origin)


def pairs(left: list[str], right: list[str]) -> set[tuple[str, str]]:
    return {(str(a.network), str(b.network)) for a, b in find_overlaps([p(x) for x in left], [p(x) for x in right])}


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        (["10.0.0.0/22"], ["10.0.0.0/22"], {("10.0.0.0/22", "10.0.0.0/22")}),  # identical
        (["10.0.0.0/16"], ["10.0.4.0/22"], {("10.0.0.0/16", "10.0.4.0/22")}),  # nested
        (["10.0.4.0/22"], ["10.0.0.0/16"], {("10.0.4.0/22", "10.0.0.0/16")}),  # nested, other side
        (["10.0.0.0/22"], ["10.0.4.0/22"], set()),  # adjacent
        (["10.0.0.0/22"], ["192.168.0.0/16"], set()),  # disjoint
        (
            ["10.0.0.0/8", "10.1.0.0/16"],
            ["10.1.2.0/24"],
            {("10.0.0.0/8", "10.1.2.0/24"), ("10.1.0.0/16", "10.1.2.0/24")},
        ),
        (["fd00::/48"], ["fd00:0:0:1::/64"], {("fd00::/48", "fd00:0:0:1::/64")}),  # IPv6
        (["::/0"], ["10.0.0.0/8"], set()),  # families never overlap
    ],
)
def test_overlap_table(left: list[str], right: list[str], expected: set[tuple[str, str]]) -> None:
    assert pairs(left, right) == expected


def test_interface_addresses_are_taken_as_their_network() -> None:
    assert str(parse_prefix("40.20.20.20/16", "segment", interface=True).network) == "40.20.0.0/16"


@pytest.mark.parametrize("bad", ["10.0.0.0", "10.0.0.300/24", "10.0.0.1/24", "nonsense/8", "", "10.0.0.0/33"])
def test_malformed_prefixes_raise_value_error_naming_the_origin(bad: str) -> None:
    with pytest.raises(ValueError, match="networkBlock"):
        parse_prefix(bad, "networkBlock")


def v4() -> st.SearchStrategy[Prefix]:
    return st.builds(
        lambda addr, length: Prefix(ipaddress.ip_network(f"{ipaddress.IPv4Address(addr)}/{length}", strict=False), "h"),
        st.integers(0, 2**32 - 1),
        st.integers(0, 32),
    )


def v6() -> st.SearchStrategy[Prefix]:
    return st.builds(
        lambda addr, length: Prefix(ipaddress.ip_network(f"{ipaddress.IPv6Address(addr)}/{length}", strict=False), "h"),
        st.integers(0, 2**128 - 1),
        st.integers(0, 128),
    )


def clustered_v4() -> st.SearchStrategy[Prefix]:
    # Prefixes inside 10.0.0.0/16 so random draws actually collide.
    return st.builds(
        lambda addr, length: Prefix(
            ipaddress.ip_network(f"{ipaddress.IPv4Address((10 << 24) + addr)}/{length}", strict=False), "h"
        ),
        st.integers(0, 2**16 - 1),
        st.integers(16, 30),
    )


prefixes = st.lists(st.one_of(v4(), v6(), clustered_v4()), max_size=40)


@settings(max_examples=300)
@given(prefixes, prefixes)
def test_sweep_finds_exactly_the_pairs_the_brute_force_oracle_finds(left: list[Prefix], right: list[Prefix]) -> None:
    def key(pair: tuple[Prefix, Prefix]) -> tuple[str, str]:
        return (str(pair[0].network), str(pair[1].network))

    assert sorted(map(key, find_overlaps(left, right))) == sorted(map(key, find_overlaps_pairwise(left, right)))
