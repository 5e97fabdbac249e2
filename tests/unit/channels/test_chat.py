"""The chat grammar Slack and Teams share, and how short cloud names resolve against the fleet."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interconnect.channels.chat import (
    HELP,
    MAX_LISTED,
    ChatCommand,
    ChatReply,
    Resolved,
    Unresolved,
    clean_text,
    parse_command,
    resolve_cloud,
    shown,
)
from tests.factories import SUB_A, SUB_B, cloud_id

RID = "0b6f5c1e-8d0a-4d8e-9a43-2f1f0c7d9e21"
ARM_A = f"/subscriptions/{SUB_A}/resourceGroups/rg-avs/providers/Microsoft.AVS/privateClouds/pc-a"


def reply(text: str) -> str:
    parsed = parse_command(text)
    assert isinstance(parsed, ChatReply), parsed
    return parsed.text


# -------------------------------------------------------------------------------------------------- grammar


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("connect a b", ChatCommand("connect", ("a", "b"))),
        ("connect a b CHG0012345", ChatCommand("connect", ("a", "b"), "CHG0012345")),
        ("disconnect rg-1/a rg-2/b JIRA-123", ChatCommand("disconnect", ("rg-1/a", "rg-2/b"), "JIRA-123")),
        ("disconnect a b", ChatCommand("disconnect", ("a", "b"))),
        (f"connect {ARM_A} b", ChatCommand("connect", (ARM_A, "b"))),
        ("plan a b", ChatCommand("plan", ("a", "b"))),
        (f"status {RID}", ChatCommand("status", (RID,))),
        (f"status {RID.upper()}", ChatCommand("status", (RID,))),
        ("links rg-avs/pc-a", ChatCommand("links", ("rg-avs/pc-a",))),
        ("CONNECT a b", ChatCommand("connect", ("a", "b"))),
        ("Links  pc-a ", ChatCommand("links", ("pc-a",))),
        ("  connect \t a \n  b   t-1  ", ChatCommand("connect", ("a", "b"), "t-1")),
        ("connect a b INC.1:2/3#4_5-6", ChatCommand("connect", ("a", "b"), "INC.1:2/3#4_5-6")),
        ("connect a b " + "T" * 64, ChatCommand("connect", ("a", "b"), "T" * 64)),
    ],
)
def test_parses_each_verb_with_its_arguments(text: str, expected: ChatCommand) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    ("text", "usage"),
    [
        ("connect", "connect <cloud A> <cloud B> [ticket]"),
        ("connect a", "connect <cloud A> <cloud B> [ticket]"),
        ("connect a b c d", "connect <cloud A> <cloud B> [ticket]"),
        ("disconnect a", "disconnect <cloud A> <cloud B> [ticket]"),
        ("plan a", "plan <cloud A> <cloud B>"),
        ("plan a b CHG1", "plan <cloud A> <cloud B>"),
        ("status", "status <request-id>"),
        (f"status {RID} {RID}", "status <request-id>"),
        ("links", "links <cloud>"),
        ("links a b", "links <cloud>"),
    ],
)
def test_wrong_arity_answers_with_the_verbs_usage(text: str, usage: str) -> None:
    assert f"usage: {usage}" in reply(text)
    assert "help" in reply(text)


@pytest.mark.parametrize("ticket", ["T" * 65, "CHG&lt;1&gt;", "a,b", "ticket;rm", "caf\u00e9", "`x`", "@here"])
def test_refuses_a_ticket_that_is_not_one_short_token(ticket: str) -> None:
    text = reply(f"connect a b {ticket}")
    assert "is not a ticket" in text and "usage: connect" in text


@pytest.mark.parametrize(
    "rid", ["123", RID[:-1], RID + "0", RID.replace("-", ""), "{" + RID + "}", RID.replace("0", "g")]
)
def test_status_needs_a_uuid_request_id(rid: str) -> None:
    assert "is not a request id" in reply(f"status {rid}")


@pytest.mark.parametrize("text", ["help", "HELP", "?", "help connect", "<at>Bot</at> help"])
def test_help_is_a_ready_reply(text: str) -> None:
    assert reply(text) == HELP


def test_help_mentions_every_verb_and_the_cloud_forms() -> None:
    for verb in ("connect", "disconnect", "plan", "status", "links", "help"):
        assert verb in HELP
    assert "full ARM id" in HELP and "'name'" in HELP and "'resource-group/name'" in HELP


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "&nbsp;", "<at>Interconnect</at>", "<p></p>", "\u200b"])
def test_empty_text_answers_with_help(text: str) -> None:
    assert HELP in reply(text)


@pytest.mark.parametrize(
    ("text", "verb"),
    [
        ("conect a b", "connect"),
        ("connetc a b", "connect"),
        ("conenct a b", "connect"),
        ("CONECT a b", "connect"),
        ("disconect a b", "disconnect"),
        ("dissconnect a b", "disconnect"),
        ("plna a b", "plan"),
        ("paln a b", "plan"),
        ("stauts x", "status"),
        ("stat x", "status"),
        ("link pc-a", "links"),
        ("lnks pc-a", "links"),
        ("hlep", "help"),
    ],
)
def test_a_typo_near_a_verb_suggests_it_with_its_usage(text: str, verb: str) -> None:
    text = reply(text)
    assert f"did you mean {verb}?" in text
    assert "usage:" in text


@pytest.mark.parametrize("text", ["frobnicate a b", "x", "go", "delete a b", "connectify a b c"])
def test_an_unknown_verb_far_from_any_answers_with_help_and_no_guess(text: str) -> None:
    text = reply(text)
    assert "did you mean" not in text
    assert HELP in text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<at>Interconnect</at> connect a b", ChatCommand("connect", ("a", "b"))),
        ("<at>Interconnect Bot</at>&nbsp;connect a b CHG1", ChatCommand("connect", ("a", "b"), "CHG1")),
        ("<AT>Bot</AT>   plan a b\n", ChatCommand("plan", ("a", "b"))),
        ('<at id="0">Bot</at> <at id="1">Other</at> links pc-a', ChatCommand("links", ("pc-a",))),
        ("<p><at>Bot</at>&nbsp;status " + RID + "</p>", ChatCommand("status", (RID,))),
        ("<div><at>Bot</at> connect&nbsp;a&nbsp;b</div>", ChatCommand("connect", ("a", "b"))),
        ("\u200b<at>Bot</at>\u00a0disconnect a\u200b b", ChatCommand("disconnect", ("a", "b"))),
        ("<@U0123ABC> connect a b", ChatCommand("connect", ("a", "b"))),
    ],
)
def test_teams_mentions_tags_and_entities_are_stripped(text: str, expected: ChatCommand) -> None:
    assert parse_command(text) == expected


def test_a_mention_after_the_verb_is_not_silently_dropped_into_an_argument() -> None:
    # The tag goes, but the mentioned name stays a token, so arity catches it instead of acting on "Bob".
    assert "usage: connect" in reply("connect a b CHG1 <at>Bob</at>")


def test_slack_escaped_text_is_decoded() -> None:
    assert clean_text("connect a&amp;b c") == "connect a&b c"
    # Decoding after tags are gone: a typed "&lt;b&gt;" stays visible text.
    assert "<b>" in clean_text("links &lt;b&gt;")


def test_overlong_text_is_refused_before_any_work() -> None:
    assert "too long" in reply("connect " + "a" * 5000 + " b")


def test_echoed_input_cannot_ping_or_format_in_chat() -> None:
    text = reply("<!here> a b")
    assert "<!here>" not in text
    echoed = reply("@channel&lt;!everyone&gt; a")
    assert "@" not in echoed.split("\n")[0] and "<!everyone>" not in echoed
    assert shown("*bold* `code` <!here> rg_1/pc-1") == "?bold???code????here??rg_1/pc-1"
    assert shown("x" * 100).endswith("…") and len(shown("x" * 100)) == 61


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_gives_a_command_or_a_non_empty_reply(text: str) -> None:
    parsed = parse_command(text)
    assert isinstance(parsed, ChatCommand | ChatReply)
    if isinstance(parsed, ChatReply):
        assert parsed.text.strip()
    else:
        assert parsed.verb in ("connect", "disconnect", "plan", "status", "links")
        assert all(arg.strip() for arg in parsed.args)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(
                [
                    "connect",
                    "plan",
                    "links",
                    "status",
                    "<at>Bot</at>",
                    "&nbsp;",
                    "<p>",
                    RID,
                    "a",
                    "rg/b",
                    "CHG1",
                    "&amp;",
                    "\u00a0",
                ]
            ),
            st.text(max_size=12),
        ),
        max_size=8,
    )
)
def test_command_shaped_text_never_raises(parts: list[str]) -> None:
    assert isinstance(parse_command(" ".join(parts)), ChatCommand | ChatReply)


def test_non_string_input_is_answered_not_raised() -> None:
    assert isinstance(parse_command(None), ChatReply)  # type: ignore[arg-type]
    assert isinstance(parse_command(b"connect a b"), ChatReply)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------- cloud names

PROD = cloud_id("pc-weu-prod", rg="rg-avs-weu")
DR = cloud_id("pc-weu-dr", rg="rg-avs-weu")
SHARED_A = cloud_id("pc-shared", rg="rg-team-a")
SHARED_B = cloud_id("pc-shared", rg="rg-team-b")
OTHER_SUB = cloud_id("pc-weu-dr", sub=SUB_B, rg="rg-avs-weu")
FLEET = [PROD, DR, SHARED_A, SHARED_B]


def test_a_full_arm_id_resolves_even_when_not_known() -> None:
    unknown = cloud_id("pc-elsewhere", sub=SUB_B)
    assert resolve_cloud(str(unknown), FLEET) == Resolved(unknown)
    assert resolve_cloud(f"  {PROD}  ", []) == Resolved(PROD)


def test_a_full_arm_id_takes_the_known_spelling() -> None:
    typed = str(PROD).lower()
    result = resolve_cloud(typed, FLEET)
    assert isinstance(result, Resolved)
    assert str(result.cloud) == str(PROD)


@pytest.mark.parametrize(
    "ref",
    [
        "/subscriptions/nope/resourceGroups/x/providers/Microsoft.AVS/privateClouds/y",
        "/pc-weu-prod",
        f"/subscriptions/{SUB_A}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm",
    ],
)
def test_a_malformed_arm_id_is_explained(ref: str) -> None:
    result = resolve_cloud(ref, FLEET)
    assert isinstance(result, Unresolved) and "not a private cloud ARM id" in result.reply
    assert result.candidates == ()


@pytest.mark.parametrize(
    ("ref", "cloud"),
    [
        ("pc-weu-prod", PROD),
        ("PC-WEU-PROD", PROD),
        ("rg-avs-weu/pc-weu-dr", DR),
        ("RG-AVS-WEU/Pc-Weu-Dr", DR),
        ("rg-team-a/pc-shared", SHARED_A),
        ("rg-team-b/PC-SHARED", SHARED_B),
        (" pc-weu-dr ", DR),
    ],
)
def test_short_names_resolve_case_insensitively(ref: str, cloud: object) -> None:
    assert resolve_cloud(ref, FLEET) == Resolved(cloud)  # type: ignore[arg-type]


def test_the_same_name_in_two_resource_groups_is_ambiguous_and_lists_both() -> None:
    result = resolve_cloud("pc-shared", FLEET)
    assert isinstance(result, Unresolved)
    assert result.candidates == (SHARED_A, SHARED_B)
    assert "rg-team-a/pc-shared" in result.reply and "rg-team-b/pc-shared" in result.reply
    assert "resource-group/name" in result.reply


def test_the_same_group_and_name_in_two_subscriptions_is_listed_by_full_id() -> None:
    result = resolve_cloud("rg-avs-weu/pc-weu-dr", [*FLEET, OTHER_SUB])
    assert isinstance(result, Unresolved) and result.candidates == (DR, OTHER_SUB)
    assert str(DR) in result.reply and str(OTHER_SUB) in result.reply


def test_an_ambiguous_reply_lists_at_most_ten_but_keeps_every_candidate() -> None:
    many = [cloud_id("pc-x", rg=f"rg-{i:02}") for i in range(13)]
    result = resolve_cloud("pc-x", many)
    assert isinstance(result, Unresolved) and len(result.candidates) == 13
    assert result.reply.count("/pc-x") == MAX_LISTED and "and 3 more" in result.reply


@pytest.mark.parametrize(
    ("ref", "suggested"),
    [
        ("pc-weu-prd", PROD),
        ("pc-wue-dr", DR),
        ("rg-avs-weu/pc-weu-prd", PROD),
        ("PC-WEU-PRODD", PROD),
    ],
)
def test_an_unknown_name_suggests_close_matches(ref: str, suggested: object) -> None:
    result = resolve_cloud(ref, FLEET)
    assert isinstance(result, Unresolved)
    assert suggested in result.candidates
    assert "Did you mean" in result.reply and suggested.short in result.reply  # type: ignore[attr-defined]


def test_a_close_name_shared_by_two_groups_offers_both() -> None:
    result = resolve_cloud("pc-shard", FLEET)
    assert isinstance(result, Unresolved) and set(result.candidates) == {SHARED_A, SHARED_B}


@pytest.mark.parametrize("ref", ["zzz", "", "   ", "a/b/c", "rg-q/zz-top"])
def test_an_unknown_name_with_nothing_close_says_how_to_name_a_cloud(ref: str) -> None:
    result = resolve_cloud(ref, FLEET)
    assert isinstance(result, Unresolved) and result.candidates == ()
    assert "'resource-group/name'" in result.reply


def test_duplicates_in_known_do_not_make_a_name_ambiguous() -> None:
    respelled = cloud_id("PC-WEU-PROD", rg="RG-AVS-WEU")
    assert resolve_cloud("pc-weu-prod", [PROD, respelled, DR]) == Resolved(PROD)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_reference_resolves_or_answers(ref: str) -> None:
    result = resolve_cloud(ref, FLEET)
    assert isinstance(result, Resolved) or (isinstance(result, Unresolved) and result.reply.strip())


@pytest.mark.parametrize(
    ("ref", "why"),
    [
        (ARM_A.replace("/pc-a", "/.."), "names '..' as its private cloud name"),
        (ARM_A.replace("/pc-a", "/."), "names '.' as its private cloud name"),
        (ARM_A.replace("/rg-avs/", "/../"), "names '..' as its resource group"),
        (ARM_A + "/", "must be a private cloud ARM id"),
        (ARM_A.replace("/pc-a", "/pc%2Fa"), "private cloud name that is not"),
    ],
)
def test_a_full_id_with_a_dot_empty_or_encoded_segment_is_refused_as_invalid_id(ref: str, why: str) -> None:
    result = resolve_cloud(ref, FLEET)
    assert isinstance(result, Unresolved) and result.candidates == ()
    assert "INVALID_ID" in result.reply and why in result.reply


@pytest.mark.parametrize("ref", [".", "..", "rg-avs-weu/..", "../pc-weu-prod", "rg-avs-weu/", "/"])
def test_a_short_name_that_is_a_dot_or_empty_is_refused_as_invalid_id(ref: str) -> None:
    result = resolve_cloud(ref, FLEET)
    assert isinstance(result, Unresolved) and result.candidates == ()
    assert "INVALID_ID" in result.reply
