"""The requester policy document: read into rules, or refused naming every bad key and what it should hold."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interconnect.errors import PolicyError
from interconnect.linking.model import Action
from interconnect.linking.policy import DEFAULT, DEFAULT_APPROVERS, load_policy, parse_policy

RULE = {"requesters": ["api:*"], "actions": ["connect"], "scopes": ["*"]}
SCOPE = "expected '*' or an ARM id starting with /subscriptions/"


def test_a_policy_is_read_into_rules_with_scopes_normalized() -> None:
    policy = parse_policy(
        {
            "rules": [
                {
                    "requesters": ["slack:T1/*"],
                    "actions": ["connect", "disconnect"],
                    "scopes": ["/Subscriptions/S1/resourceGroups/RG/", "*/"],
                    "description": "network team",
                }
            ],
            "approvers": ["role:Links.Approve"],
        },
        "test",
    )
    (rule,) = policy.rules
    assert rule.requesters == ("slack:T1/*",) and rule.actions == {Action.CONNECT, Action.DISCONNECT}
    assert rule.scopes == ("/subscriptions/s1/resourcegroups/rg", "*")
    assert (policy.source, policy.approvers) == ("test", ("role:Links.Approve",))


def test_approvers_default_to_the_approve_and_admin_roles_and_may_be_emptied() -> None:
    assert parse_policy({"rules": []}, "t").approvers == DEFAULT_APPROVERS == DEFAULT.approvers
    assert parse_policy({"rules": [], "approvers": []}, "t").approvers == ()


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ("rules", "policy src: expected an object, got a string"),
        ({}, "policy src: rules: required"),
        ({"rules": [], "owners": []}, "owners: unknown field (allowed: approvers, rules)"),
        ({"rules": {}}, "rules: expected a list, got an object"),
        ({"rules": [RULE], "approvers": "role:x"}, "approvers: expected a list, got a string"),
        ({"rules": [RULE], "approvers": ["role:x", ""]}, "approvers[1]: expected a non-empty string"),
        ({"rules": [RULE, "x"]}, "rules[1]: expected an object, got a string"),
        (
            {"rules": [{**RULE, "scope": ["*"]}]},
            "rules[0].scope: unknown field (allowed: actions, description, requesters, scopes)",
        ),
        ({"rules": [{"actions": ["connect"], "scopes": ["*"]}]}, "rules[0].requesters: required"),
        ({"rules": [{**RULE, "requesters": []}]}, "rules[0].requesters: expected a non-empty list"),
        ({"rules": [{**RULE, "requesters": ["a", 5]}]}, "rules[0].requesters[1]: expected a string, got an integer"),
        (
            {"rules": [{**RULE, "actions": ["connect", "link"]}]},
            "rules[0].actions[1]: expected one of connect, disconnect, not 'link'",
        ),
        (
            {"rules": [{**RULE, "actions": ["Connect"]}]},
            "rules[0].actions[0]: expected one of connect, disconnect, not 'Connect'",
        ),
        ({"rules": [RULE, {**RULE, "scopes": ["*", "rg-avs"]}]}, f"rules[1].scopes[1]: {SCOPE}, not 'rg-avs'"),
        ({"rules": [{**RULE, "scopes": ["/subscriptions/"]}]}, f"rules[0].scopes[0]: {SCOPE}, not '/subscriptions/'"),
    ],
)
def test_a_bad_policy_is_refused_naming_the_key_and_what_it_should_hold(raw: Any, named: str) -> None:
    with pytest.raises(PolicyError) as err:
        parse_policy(raw, "src")
    assert err.value.code == "POLICY_INVALID" and err.value.message.startswith("policy src: ")
    assert named in err.value.message and named.removeprefix("policy src: ") in err.value.details["problems"]


def test_every_problem_of_a_policy_is_named_at_once() -> None:
    raw = {"rules": [{**RULE, "requesters": []}, {**RULE, "actions": ["link"], "scopes": ["x"]}], "extra": 1}
    with pytest.raises(PolicyError) as err:
        parse_policy(raw, "src")
    assert err.value.details["problems"] == [
        "extra: unknown field (allowed: approvers, rules)",
        "rules[0].requesters: expected a non-empty list",
        "rules[1].actions[0]: expected one of connect, disconnect, not 'link'",
        f"rules[1].scopes[0]: {SCOPE}, not 'x'",
    ]


def test_load_policy_names_the_setting_or_file_at_fault(tmp_path: Any) -> None:
    assert load_policy("  ") is DEFAULT
    with pytest.raises(PolicyError, match=r"^policy INTERCONNECT_POLICY: rules: required$"):
        load_policy("{}")
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"rules": [{**RULE, "scopes": ["rg"]}]}))
    with pytest.raises(PolicyError, match=f"^policy {path}: rules\\[0\\]\\.scopes\\[0\\]: "):
        load_policy(str(path))
    with pytest.raises(PolicyError, match="cannot be read"):
        load_policy(str(tmp_path / "absent.json"))


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=12)
    | st.sampled_from(["*", "connect", "disconnect", "/subscriptions/s1", "api:*"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["rules", "approvers", "requesters", "actions", "scopes", "description", "x"]),
            inner,
            max_size=4,
        )
    ),
    max_leaves=16,
)


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_any_document_is_a_policy_or_refused_with_each_problem_at_a_path(raw: Any) -> None:
    try:
        policy = parse_policy(raw, "p")
    except PolicyError as exc:
        assert exc.code == "POLICY_INVALID" and exc.details["problems"]
        assert exc.message == "policy p: " + "; ".join(exc.details["problems"])
    else:
        assert all(rule.requesters and rule.actions and rule.scopes for rule in policy.rules)
        assert all(s == "*" or s.startswith("/subscriptions/") for rule in policy.rules for s in rule.scopes)
