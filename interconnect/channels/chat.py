"""The chat grammar Slack and Teams share: text in, a command or a reply to send back out. No I/O.

People type in chat, so the parser forgives what a person would expect it to forgive (case, extra spaces, a
Teams @mention, HTML entities, a near-miss verb) and answers everything else with a short usage line rather
than an error: chat has no status codes, only replies. `parse_command` never raises, for any input.

    connect <A> <B> [ticket]      disconnect <A> <B> [ticket]      plan <A> <B>
    status <request-id>           links <cloud>                    help

A cloud is a full ARM id, 'name' or 'resource-group/name'; `resolve_cloud` turns a short name into an id
against the clouds the caller knows of (the fleet it can read), asking back when it is ambiguous.
"""

from __future__ import annotations

import difflib
import html
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from interconnect.avs.ids import CloudId, parse_cloud_id
from interconnect.errors import DependencyError, ValidationError

VERBS = ("connect", "disconnect", "plan", "status", "links", "help")

USAGE = {
    "connect": "connect <cloud A> <cloud B> [ticket]",
    "disconnect": "disconnect <cloud A> <cloud B> [ticket]",
    "plan": "plan <cloud A> <cloud B>",
    "status": "status <request-id>",
    "links": "links <cloud>",
    "help": "help",
}

# Inside a code block: Slack and Teams both render ``` as monospace, so the columns line up in either.
HELP = "\n".join(
    [
        "interconnect commands:",
        "```",
        f"  {USAGE['connect']:<40} link two private clouds (the link is made on A)",
        f"  {USAGE['disconnect']:<40} remove the link between two private clouds",
        f"  {USAGE['plan']:<40} dry run: what a connect would do, changing nothing",
        f"  {USAGE['status']:<40} where a request stands",
        f"  {USAGE['links']:<40} the links a private cloud has now",
        f"  {USAGE['help']:<40} this text",
        "```",
        "A cloud is a full ARM id, 'name' or 'resource-group/name'.",
        "A ticket is one token of up to 64 characters, like CHG0012345 or JIRA-123.",
    ]
)

MAX_TEXT = 2000  # Slack and Teams commands are one line; anything longer is not a command
MAX_LISTED = 10  # candidates shown in one reply; more would drown the question being asked
MAX_TYPO = 2  # edit distance under which an unknown verb is taken for a typo

TICKET = re.compile(r"[A-Za-z0-9._:/#-]{1,64}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
# What precedes the command: whitespace, wrapping tags (<p>, <div>), Teams mentions (<at>Bot Name</at>) and
# Slack mentions (<@U0123|bot>). A mention is removed with its text; other tags only lose their brackets.
_LEADING_MENTIONS = re.compile(
    r"^(?:\s|&nbsp;|<(?!at[\s>])[^<>]{0,200}>|<at(?:\s[^<>]{0,200})?>.{0,200}?</at\s*>)+",
    re.IGNORECASE | re.DOTALL,
)
_TAG = re.compile(r"<[^<>]{0,500}>")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))  # zero-width chars Teams leaves in


@dataclass(frozen=True)
class ChatCommand:
    """A well-formed command. `args` are raw cloud references (resolve them with `resolve_cloud`) or, for
    `status`, the request id in lower case."""

    verb: str  # "connect" | "disconnect" | "plan" | "status" | "links"
    args: tuple[str, ...]
    ticket: str = ""


@dataclass(frozen=True)
class ChatReply:
    """A reply to send back instead of acting: the help text, or what is wrong with the command and its usage."""

    text: str


def parse_command(text: object) -> ChatCommand | ChatReply:
    """Parse one chat message (Slack slash-command text or a Teams outgoing-webhook message). Never raises.

    `help` (and anything unparseable) comes back as a ChatReply ready to send, so the caller never needs a
    case for it.
    """
    if not isinstance(text, str):
        text = ""
    if len(text) > MAX_TEXT:
        return ChatReply(f"That message is too long to be a command.\n\n{HELP}")
    tokens = clean_text(text).split()
    if not tokens:
        return ChatReply(f"Tell me what to do.\n\n{HELP}")
    verb, args = tokens[0].lower(), tokens[1:]
    if verb in ("help", "?"):
        return ChatReply(HELP)
    if verb not in USAGE:
        guess = _closest_verb(verb)
        if guess:
            return _usage(guess, f"I don't know '{shown(tokens[0])}': did you mean {guess}?")
        return ChatReply(f"I don't know '{shown(tokens[0])}'.\n\n{HELP}")
    if verb in ("connect", "disconnect"):
        if len(args) not in (2, 3):
            return _usage(verb, f"{verb} needs two clouds and, optionally, a ticket.")
        ticket = args[2] if len(args) == 3 else ""
        if ticket and not TICKET.fullmatch(ticket):
            return _usage(
                verb, f"'{shown(ticket)}' is not a ticket: use one token of at most 64 letters, digits or . _ : / # -"
            )
        return ChatCommand(verb, (args[0], args[1]), ticket)
    if verb == "plan":
        if len(args) != 2:
            return _usage(verb, "plan needs two clouds.")
        return ChatCommand(verb, (args[0], args[1]))
    if verb == "status":
        if len(args) != 1:
            return _usage(verb, "status needs one request id.")
        if not _UUID.fullmatch(args[0]):
            return _usage(
                verb, f"'{shown(args[0])}' is not a request id (they look like 0b6f5c1e-8d0a-4d8e-9a43-2f1f0c7d9e21)."
            )
        return ChatCommand(verb, (args[0].lower(),))
    if len(args) != 1:  # links
        return _usage(verb, "links needs one cloud.")
    return ChatCommand(verb, (args[0],))


def clean_text(text: str) -> str:
    """Plain command text from a chat message: leading mentions and HTML tags gone, entities decoded.

    Teams sends HTML ("<at>Interconnect</at>&nbsp;connect a b"); Slack sends plain text with &amp; &lt; &gt;
    escaped. Decoding after the tags are gone means a user's typed "&lt;b&gt;" stays text instead of
    becoming a tag.
    """
    text = _LEADING_MENTIONS.sub(" ", text.translate(_INVISIBLE))
    text = _TAG.sub(" ", text)
    return html.unescape(text).translate(_INVISIBLE)


def shown(value: str, limit: int = 60) -> str:
    """User text safe to echo into a chat reply: short, and without the characters Slack and Teams give
    meaning to (`<!here>`, `@`, `*`, backticks), so echoing input can never ping a channel or format."""
    safe = "".join(c if c.isalnum() or c in "._-/:#()" else "?" for c in value[:limit])
    return safe + ("…" if len(value) > limit else "")


def _usage(verb: str, problem: str) -> ChatReply:
    return ChatReply(f"{problem}\nusage: {USAGE[verb]}\nSend `help` for all commands.")


def _closest_verb(word: str) -> str | None:
    """The verb `word` is most likely a typo of, if any is within MAX_TYPO edits (transpositions count 1)."""
    best, best_distance = None, MAX_TYPO + 1
    for verb in VERBS:
        # A near-empty word is within two edits of any short verb; that is a guess, not a typo.
        if len(word) < 3 or abs(len(verb) - len(word)) > MAX_TYPO:
            continue
        distance = _edit_distance(word, verb)
        if distance < best_distance:
            best, best_distance = verb, distance
    return best


def _edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


# --------------------------------------------------------------------------------------------- cloud names


@dataclass(frozen=True)
class Resolved:
    """The reference names exactly one private cloud."""

    cloud: CloudId


@dataclass(frozen=True)
class Unresolved:
    """The reference names no cloud or several: `reply` asks back, listing `candidates` (or close matches).
    `why`: "invalid" (no cloud could have that name), "unknown" (none known has it; `candidates` are close
    matches) or "ambiguous" (several have it; `candidates` are all of them)."""

    reply: str
    candidates: tuple[CloudId, ...]
    why: Literal["invalid", "unknown", "ambiguous"]


def resolve_cloud(ref: str, known: Sequence[CloudId]) -> Resolved | Unresolved:
    """Resolve what a person typed for a cloud: a full ARM id, 'name' or 'resource-group/name'.

    A full id is taken as is (it need not be in `known`: the worker checks that it exists), in the spelling
    `known` has when it is there. Short forms match `known` case-insensitively, as ARM names do. Never raises.
    """
    ref = ref.strip() if isinstance(ref, str) else ""
    clouds = list(dict.fromkeys(known))  # CloudId equality is case-insensitive: drops spelled-twice duplicates
    if not ref:
        return Unresolved("Name a private cloud: a full ARM id, 'name' or 'resource-group/name'.", (), "invalid")
    if ref.startswith("/") or "/providers/" in ref.lower():
        try:
            cloud = parse_cloud_id(ref, field_name="it")
        except ValidationError as exc:
            # The reason names the part at fault and never repeats the input (see interconnect/avs/ids.py).
            return Unresolved(
                f"'{shown(ref, 120)}' is not a private cloud ARM id ({exc.code}): {exc.message}. "
                "An id looks like /subscriptions/<guid>/resourceGroups/<group>/providers/"
                "Microsoft.AVS/privateClouds/<name>.",
                (),
                "invalid",
            )
        return Resolved(next((c for c in clouds if c == cloud), cloud))
    if any(part in ("", ".", "..") for part in ref.split("/")):
        return Unresolved(
            f"'{shown(ref)}' is not a private cloud name (INVALID_ID): a name or group cannot be "
            "empty, '.' or '..'. Give a full ARM id, 'name' or 'resource-group/name'.",
            (),
            "invalid",
        )
    wanted = ref.lower()
    if "/" in ref:
        matches = [c for c in clouds if c.short.lower() == wanted]
        choices = {c.short.lower(): c for c in clouds}
    else:
        matches = [c for c in clouds if c.name.lower() == wanted]
        choices = {c.name.lower(): c for c in clouds}
    if len(matches) == 1:
        return Resolved(matches[0])
    if matches:
        return Unresolved(
            f"'{shown(ref)}' matches {len(matches)} private clouds; say which with "
            f"resource-group/name or the full ARM id: {_listing(matches)}",
            tuple(matches),
            "ambiguous",
        )
    close = difflib.get_close_matches(wanted, list(choices), n=MAX_LISTED, cutoff=0.6)
    # A close name may stand for several clouds (same name in other groups): offer all of them.
    similar = [c for choice in close for c in clouds if (c.short if "/" in ref else c.name).lower() == choice]
    if similar:
        return Unresolved(
            f"I know no private cloud '{shown(ref)}'. Did you mean: {_listing(similar)}?", tuple(similar), "unknown"
        )
    return Unresolved(
        f"I know no private cloud '{shown(ref)}'. Give a full ARM id, 'name' or 'resource-group/name'.", (), "unknown"
    )


def resolve_listed(ref: str, list_known: Callable[[], Sequence[CloudId]]) -> Resolved | Unresolved:
    """`resolve_cloud` against `list_known()`, the listing of the configured subscriptions. When none of them can be
    listed (`list_known` raises DependencyError), a full id still resolves and a malformed reference is still
    refused; only a short name, which cannot be looked up without the listing, raises the outage."""
    try:
        known = list_known()
    except DependencyError:
        result = resolve_cloud(ref, ())
        if isinstance(result, Unresolved) and result.why == "unknown":
            raise
        return result
    return resolve_cloud(ref, known)


def _listing(clouds: Sequence[CloudId]) -> str:
    """'rg/name' for each cloud (the full id when two share it, e.g. in two subscriptions), at most MAX_LISTED."""
    shorts = Counter(c.short.lower() for c in clouds)
    labels = [str(c) if shorts[c.short.lower()] > 1 else c.short for c in clouds[:MAX_LISTED]]
    more = len(clouds) - MAX_LISTED
    return ", ".join(labels) + (f" and {more} more" if more > 0 else "")
