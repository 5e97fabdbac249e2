"""Ticket webhook payloads to request fields, by the documented per-source mappings."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interconnect.channels.ticketmap import DEFAULT_MAPPINGS, TicketFields, TicketMapping, map_ticket, parse_mapping
from interconnect.errors import MappingError, ValidationError
from interconnect.linking.model import Action, Requester
from interconnect.linking.validation import parse_submit
from tests.factories import cloud_id

A, B = str(cloud_id("pc-weu-prod", rg="rg-avs-weu")), str(cloud_id("pc-weu-dr", rg="rg-avs-weu"))

# Shaped like a Jira Cloud admin webhook for jira:issue_updated (trimmed); custom field ids are the defaults'.
JIRA_PAYLOAD: dict[str, Any] = {
    "timestamp": 1764072000123,
    "webhookEvent": "jira:issue_updated",
    "issue_event_type_name": "issue_generic",
    "user": {
        "self": "https://example.atlassian.net/rest/api/2/user?accountId=5b10ac8d82e05b22cc7d4ef5",
        "accountId": "5b10ac8d82e05b22cc7d4ef5",
        "displayName": "Alice Example",
        "active": True,
    },
    "issue": {
        "id": "10042",
        "key": "AVS-42",
        "self": "https://example.atlassian.net/rest/api/2/issue/10042",
        "fields": {
            "summary": "Link prod to DR",
            "labels": ["avs"],
            "status": {"name": "Approved", "id": "10001"},
            "customfield_10050": A,
            "customfield_10051": f"  {B}  ",
            "customfield_10052": {
                "self": "https://example.atlassian.net/rest/api/2/customFieldOption/10100",
                "value": "Connect",
                "id": "10100",
            },
        },
    },
    "changelog": {"items": [{"field": "status", "fromString": "Open", "toString": "Approved"}]},
}

# What our ServiceNow scripted REST message sends: the change record's fields, flat.
SERVICENOW_PAYLOAD: dict[str, Any] = {
    "sys_id": "9d385017c611228701d22104cc95c371",
    "number": "CHG0012345",
    "u_action": "disconnect",
    "u_source_cloud": A,
    "u_target_cloud": B,
    "sys_updated_by": "alice.example",
    "state": "-1",
    "short_description": "Remove the test link",
}

STANDARD_PAYLOAD: dict[str, Any] = {
    "action": "connect",
    "source": A,
    "target": B,
    "reference": "REQ-7",
    "requestedBy": "platform-automation",
}


def default(name: str) -> TicketMapping:
    return parse_mapping(DEFAULT_MAPPINGS[name], f"defaults.{name}")


def failure(payload: Any, mapping: TicketMapping) -> MappingError:
    with pytest.raises(MappingError) as err:
        map_ticket(payload, mapping)
    assert err.value.code == "MAPPING_FAILED"
    return err.value


def mapping(fields: dict[str, str], actions: dict[str, str] | None = None) -> TicketMapping:
    return parse_mapping({"fields": fields, **({"actions": actions} if actions is not None else {})}, "test")


PLAIN = {"action": "action", "source": "source", "target": "target", "reference": "reference"}


# -------------------------------------------------------------------------------------------- the defaults


def test_every_default_mapping_is_a_valid_config() -> None:
    assert set(DEFAULT_MAPPINGS) == {"jira", "servicenow", "standard-webhooks"}
    for name in DEFAULT_MAPPINGS:
        assert isinstance(default(name), TicketMapping)


def test_maps_a_jira_issue_webhook() -> None:
    assert map_ticket(JIRA_PAYLOAD, default("jira")) == TicketFields(
        action="connect", source=A, target=B, reference="AVS-42", requester="5b10ac8d82e05b22cc7d4ef5"
    )


def test_maps_a_servicenow_change() -> None:
    assert map_ticket(SERVICENOW_PAYLOAD, default("servicenow")) == TicketFields(
        action="disconnect", source=A, target=B, reference="CHG0012345", requester="alice.example"
    )


def test_maps_a_standard_webhooks_body() -> None:
    assert map_ticket(STANDARD_PAYLOAD, default("standard-webhooks")) == TicketFields(
        action="connect", source=A, target=B, reference="REQ-7", requester="platform-automation"
    )


def test_mapped_fields_feed_the_api_validation_unchanged() -> None:
    fields = map_ticket(JIRA_PAYLOAD, default("jira"))
    submit = parse_submit(fields.as_request_body(), caller=Requester("jira", "site-1"))
    assert submit.action is Action.CONNECT and submit.reference == "AVS-42"
    assert str(submit.source) == A and str(submit.target) == B
    assert submit.requester == Requester("jira", "site-1", "5b10ac8d82e05b22cc7d4ef5")


def test_a_jira_payload_with_none_of_our_fields_lists_every_one_missing() -> None:
    payload = copy.deepcopy(JIRA_PAYLOAD)
    for name in ("customfield_10050", "customfield_10051", "customfield_10052"):
        del payload["issue"]["fields"][name]
    del payload["issue"]["key"]
    err = failure(payload, default("jira"))
    assert [m["field"] for m in err.details["missing"]] == ["action", "source", "target", "reference"]
    assert err.details["invalid"] == []
    assert err.details["missing"][1] == {
        "field": "source",
        "path": "issue.fields.customfield_10050",
        "found": "no 'customfield_10050' in issue.fields",
    }
    for name in ("action", "source", "target", "reference"):
        assert f"missing {name}" in err.message


def test_the_optional_requester_may_be_absent() -> None:
    payload = {k: v for k, v in SERVICENOW_PAYLOAD.items() if k != "sys_updated_by"}
    assert map_ticket(payload, default("servicenow")).requester == ""
    assert map_ticket({**SERVICENOW_PAYLOAD, "sys_updated_by": None}, default("servicenow")).requester == ""
    assert map_ticket(STANDARD_PAYLOAD, mapping(PLAIN)).requester == ""


# ------------------------------------------------------------------------------------------------- values


def test_reports_missing_and_invalid_fields_together_with_what_was_found() -> None:
    payload = {"action": "explode", "source": None, "target": ["x"], "reference": "   "}
    err = failure(payload, mapping(PLAIN))
    assert err.details["missing"] == [
        {"field": "source", "path": "source", "found": "null"},
        {"field": "reference", "path": "reference", "found": "an empty string"},
    ]
    assert [(i["field"], i["found"]) for i in err.details["invalid"]] == [("action", "'explode'"), ("target", "['x']")]
    assert "connect, disconnect" in err.details["invalid"][0]["expected"]
    assert "invalid action" in err.message and "invalid target" in err.message


@pytest.mark.parametrize(
    ("raw", "action"),
    [
        ("Connect", "connect"),
        ("CONNECT", "connect"),
        (" link ", "connect"),
        ("Unlink", "disconnect"),
        ("disconnect", "disconnect"),
    ],
)
def test_action_values_map_case_insensitively(raw: str, action: str) -> None:
    payload = {**SERVICENOW_PAYLOAD, "u_action": raw}
    assert map_ticket(payload, default("servicenow")).action == action


def test_with_an_action_map_only_listed_values_are_accepted() -> None:
    strict = mapping(PLAIN, {"Link clouds": "connect", "Remove link": "DISCONNECT"})
    assert strict.actions == {"link clouds": "connect", "remove link": "disconnect"}
    assert map_ticket({**STANDARD_PAYLOAD, "action": "LINK CLOUDS"}, strict).action == "connect"
    assert map_ticket({**STANDARD_PAYLOAD, "action": "remove link"}, strict).action == "disconnect"
    err = failure(STANDARD_PAYLOAD, strict)  # "connect" itself is not on this form
    assert err.details["invalid"][0]["expected"] == "one of link clouds, remove link"


def test_without_an_action_map_the_value_must_already_be_an_action() -> None:
    assert map_ticket({**STANDARD_PAYLOAD, "action": "Disconnect"}, mapping(PLAIN)).action == "disconnect"
    assert failure({**STANDARD_PAYLOAD, "action": "link"}, mapping(PLAIN)).details["invalid"][0]["field"] == "action"


def test_constant_fields_need_nothing_in_the_payload() -> None:
    flow = mapping({**PLAIN, "action": "$const:connect", "requester": "$const:servicenow-flow"})
    fields = map_ticket({k: v for k, v in STANDARD_PAYLOAD.items() if k != "action"}, flow)
    assert (fields.action, fields.requester) == ("connect", "servicenow-flow")


def test_list_indexes_in_paths() -> None:
    payload = {
        "items": [{"name": "source", "value": A}, {"name": "target", "value": B}],
        "ticket": {"refs": ["CHG9", "OTHER"]},
        "action": "connect",
    }
    listed = mapping(
        {"action": "action", "source": "items.0.value", "target": "items.1.value", "reference": "ticket.refs.0"}
    )
    assert map_ticket(payload, listed) == TicketFields("connect", A, B, "CHG9", "")


@pytest.mark.parametrize(
    ("path", "found"),
    [
        ("items.2.value", "items has 2 item(s), no index 2"),
        ("items.first.value", "items is a list, and 'first' is not an index"),
        ("items.-1.value", "items is a list, and '-1' is not an index"),
        ("items.0.value.deeper", "items.0.value is a string, not an object"),
        ("nothing.here", "no 'nothing' in the top level"),
    ],
)
def test_paths_that_lead_nowhere_say_where_they_stopped(path: str, found: str) -> None:
    payload = {"items": [{"value": A}, {"value": B}], "action": "connect", "target": B, "reference": "R1"}
    err = failure(payload, mapping({**PLAIN, "source": path}))
    assert err.details["missing"] == [{"field": "source", "path": path, "found": found}]


def test_a_numeric_reference_becomes_text_but_other_numbers_are_invalid() -> None:
    assert map_ticket({**STANDARD_PAYLOAD, "reference": 12345}, mapping(PLAIN)).reference == "12345"
    err = failure({**STANDARD_PAYLOAD, "reference": True, "source": 7, "action": 1.5}, mapping(PLAIN))
    assert sorted(i["field"] for i in err.details["invalid"]) == ["action", "reference", "source"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("reference", "x" * 201),
        ("reference", "CHG1\nDROP"),
        ("source", A + "\x00"),
        ("requester", "a\tb"),
        ("requester", "r" * 201),
        ("target", {"id": B}),
    ],
)
def test_values_must_be_single_line_strings_within_limits(field: str, value: Any) -> None:
    body = {**STANDARD_PAYLOAD, {"requester": "requestedBy"}.get(field, field): value}
    err = failure(body, default("standard-webhooks"))
    assert [i["field"] for i in err.details["invalid"]] == [field]


def test_values_are_trimmed() -> None:
    assert map_ticket({**STANDARD_PAYLOAD, "reference": "  REQ-7 \t"}, mapping(PLAIN)).reference == "REQ-7"


@pytest.mark.parametrize("payload", [None, [], "text", 42, [STANDARD_PAYLOAD]])
def test_a_payload_that_is_not_an_object_misses_every_field(payload: Any) -> None:
    err = failure(payload, mapping(PLAIN))
    assert [m["field"] for m in err.details["missing"]] == ["action", "source", "target", "reference"]


def test_a_found_value_is_shown_cut_short() -> None:
    err = failure({**STANDARD_PAYLOAD, "target": ["x" * 1000]}, mapping(PLAIN))
    assert len(err.details["invalid"][0]["found"]) <= 81


def test_a_mapping_error_is_a_validation_error() -> None:
    assert issubclass(MappingError, ValidationError)


# ------------------------------------------------------------------------------------------ bad configs


DOT_PATH = "expected a dot path (keys joined by '.', none empty, at most 500 characters) or '$const:<value>'"


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ({"fields": {**PLAIN, "sourse": "x"}}, "fields.sourse: unknown field (allowed: action, reference, requester, "),
        ({"fields": {k: v for k, v in PLAIN.items() if k != "target"}}, "fields.target: required"),
        ({"fields": {**PLAIN, "source": ""}}, f"fields.source: {DOT_PATH}, not ''"),
        ({"fields": {**PLAIN, "source": 5}}, "fields.source: expected a string, got an integer"),
        ({"fields": {**PLAIN, "source": "a..b"}}, f"fields.source: {DOT_PATH}, not 'a..b'"),
        ({"fields": {**PLAIN, "source": ".a"}}, f"fields.source: {DOT_PATH}, not '.a'"),
        ({"fields": {**PLAIN, "source": "a" * 501}}, f"fields.source: {DOT_PATH}, not 'aaa"),
        ({"fields": {**PLAIN, "source": "$const:"}}, f"fields.source: {DOT_PATH}, not '$const:'"),
        ({"fields": {**PLAIN, "requester": None}}, "fields.requester: expected a string, got null"),
        ({"fields": {**PLAIN, "action": "$const:link"}}, "fields.action: '$const:link' does not map"),
        (
            {"fields": PLAIN, "actions": {"Link": "attach"}},
            "actions.Link: expected connect or disconnect, not 'attach'",
        ),
        ({"fields": PLAIN, "actions": {"": "connect"}}, "actions.: expected a non-blank raw value, not ''"),
        ({"fields": PLAIN, "actions": ["connect"]}, "actions: expected an object, got a list"),
        ({"fields": PLAIN, "colour": "red"}, "colour: unknown field (allowed: actions, fields)"),
        ({"fields": ["action"]}, "fields: expected an object, got a list"),
        ({}, "fields: required"),
        ("fields", "is invalid: expected an object, got a string"),
    ],
)
def test_a_bad_config_is_refused_naming_the_bad_key(raw: Any, named: str) -> None:
    with pytest.raises(ValidationError) as err:
        parse_mapping(raw, "INTERCONNECT_TICKET_MAPPINGS.jira")
    assert err.value.code == "MAPPING_CONFIG_INVALID"
    assert named in err.value.message
    assert "INTERCONNECT_TICKET_MAPPINGS.jira" in err.value.message
    assert err.value.details["where"] == "INTERCONNECT_TICKET_MAPPINGS.jira"


def test_every_config_problem_is_listed_at_once() -> None:
    with pytest.raises(ValidationError) as err:
        parse_mapping({"fields": {"sourse": "a", "action": ""}, "actions": {"x": "y"}}, "cfg")
    assert len(err.value.details["problems"]) == 6  # sourse, action, source/target/reference required, actions.x
    assert err.value.details["problems"][:4] == [
        "fields.sourse: unknown field (allowed: action, reference, requester, source, target)",
        "fields.source: required",
        "fields.target: required",
        "fields.reference: required",
    ]


def test_a_constant_action_mapped_through_the_action_table_is_accepted() -> None:
    assert mapping({**PLAIN, "action": "$const:Link"}, {"link": "connect"}).fields["action"] == "$const:Link"
    assert (
        map_ticket(
            {"source": A, "target": B, "reference": "R"},
            mapping({**PLAIN, "action": "$const:Link"}, {"link": "connect"}),
        ).action
        == "connect"
    )


def test_mappings_round_trip_through_json_config() -> None:
    for name, raw in DEFAULT_MAPPINGS.items():
        assert parse_mapping(json.loads(json.dumps(raw)), name) == default(name)


# --------------------------------------------------------------------------------------------- properties

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(
    payload=st.one_of(
        JSON,
        st.fixed_dictionaries(
            {},
            optional={
                "action": JSON | st.sampled_from(["connect", "Disconnect", "link"]),
                "source": JSON,
                "target": JSON,
                "reference": JSON,
                "requestedBy": JSON,
            },
        ),
    ),
    name=st.sampled_from(sorted(DEFAULT_MAPPINGS)),
)
def test_any_payload_maps_or_fails_with_a_mapping_error(payload: Any, name: str) -> None:
    try:
        fields = map_ticket(payload, default(name))
    except MappingError as exc:
        assert exc.details["missing"] or exc.details["invalid"]
        json.dumps(exc.details)  # safe to return as a response body
    else:
        assert fields.action in ("connect", "disconnect")
        assert fields.source and fields.target and fields.reference
