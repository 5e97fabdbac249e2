"""The `interconnect` commands (click). Each reads its settings (config.py), calls the API (api.py), shows the
answer (render.py, or the API's JSON with --output json) and exits with a code from exits.py."""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, ParamSpec, TypeVar

import click
import httpx
from rich.console import Console, RenderableType
from rich.text import Text

from interconnect_cli import estate, render
from interconnect_cli.api import TIMEOUT, Api, ApiError, Unreachable
from interconnect_cli.auth import AuthFailed, IdentityUnreachable, credentials
from interconnect_cli.config import AUTH_METHODS, ConfigError, Settings, resolve
from interconnect_cli.exits import HELP, Exit, for_http_status, for_status
from interconnect_cli.follow import Follower, Outcome, Silent

P = ParamSpec("P")
R = TypeVar("R")

STATUSES = ("Accepted", "AwaitingApproval", "Validating", "InProgress", "Succeeded", "Rejected", "Failed", "Expired")
TOPOLOGY_FORMATS = ("json", "mermaid", "dot", "svg")
FLAGS = "interconnect.flags"


# -- options every command takes (before or after the command's name) --------------------------------------------


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Keep a global option's value on the root context: given after the command, it overrides one given before."""
    if value is not None and param.name is not None:
        ctx.find_root().meta.setdefault(FLAGS, {})[param.name] = value
    return value


GLOBAL_OPTIONS: list[tuple[tuple[str, ...], dict[str, Any]]] = [
    (("--url",), {"metavar": "URL", "help": "The app's base URL [env INTERCONNECT_URL]."}),
    (
        ("--function-key",),
        {"metavar": "KEY", "help": "Function key, sent as x-functions-key [env INTERCONNECT_FUNCTION_KEY]."},
    ),
    (
        ("--auth",),
        {
            "type": click.Choice(AUTH_METHODS),
            "help": "Entra sign-in: az login (cli), device code, managed identity, or DefaultAzureCredential "
            "[env INTERCONNECT_AUTH; default: default when a scope is set, else none].",
        },
    ),
    (
        ("--scope",),
        {"metavar": "SCOPE", "help": "The API's Entra scope, e.g. api://<app>/.default [env INTERCONNECT_SCOPE]."},
    ),
    (
        ("--tenant-id",),
        {"metavar": "GUID", "help": "Entra tenant for cli/device/default [env INTERCONNECT_TENANT_ID]."},
    ),
    (
        ("--client-id",),
        {
            "metavar": "GUID",
            "help": "Managed identity client id (managed/default), or the public client for device code "
            "[env INTERCONNECT_CLIENT_ID].",
        },
    ),
    (
        ("--demo-user",),
        {"metavar": "NAME", "help": "Local cloud only: a demo user (alice, bob, ...) [env INTERCONNECT_DEMO_USER]."},
    ),
    (
        ("--identity-url",),
        {"metavar": "URL", "help": "Local cloud only: the identity stand-in [env INTERCONNECT_IDENTITY_URL]."},
    ),
    (("--profile",), {"metavar": "NAME", "help": "Config file profile [env INTERCONNECT_PROFILE]."}),
    (("--config", "config_path"), {"metavar": "FILE", "help": "Config file [env INTERCONNECT_CONFIG]."}),
    (
        ("--output", "-o"),
        {"type": click.Choice(["table", "json"]), "help": "table (default) or json: the API's JSON on stdout only."},
    ),
]


def global_options(command: Callable[P, R]) -> Callable[P, R]:
    for names, attributes in reversed(GLOBAL_OPTIONS):
        command = click.option(*names, expose_value=False, callback=_remember, **attributes)(command)
    return command


# -- what a command runs with ------------------------------------------------------------------------------------


@dataclass
class Session:
    """The settings, the API client and the consoles of one invocation."""

    settings: Settings
    api: Api
    json_output: bool
    out: Console
    err: Console

    def show(self, renderable: RenderableType, payload: Any) -> None:
        """`payload` as JSON on stdout with --output json, else `renderable` for a person."""
        if self.json_output:
            click.echo(json.dumps(payload, indent=2))
        else:
            self.out.print(renderable)


def _console(stderr: bool) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    # Not a terminal (a pipeline's log): wide enough that ids and tables do not wrap, unless COLUMNS says.
    wide = None if stream.isatty() or os.environ.get("COLUMNS") else 200
    return Console(stderr=stderr, width=wide, highlight=False, soft_wrap=False)


@contextmanager
def session(ctx: click.Context) -> Iterator[Session]:
    flags: dict[str, Any] = dict(ctx.find_root().meta.get(FLAGS, {}))
    output = flags.pop("output", None) or os.environ.get("INTERCONNECT_OUTPUT") or "table"
    config_path, profile = flags.pop("config_path", None), flags.pop("profile", None)
    settings = resolve(flags, os.environ, Path.home(), config_path=config_path, profile=profile)
    # Tests hand in an httpx transport (`cli.main(obj={"transport": ...})`); otherwise the network.
    transport = (ctx.find_root().obj or {}).get("transport")
    with httpx.Client(timeout=TIMEOUT, follow_redirects=False, transport=transport) as http:
        api = Api(settings.url, credentials(settings, http), http)
        yield Session(settings, api, output == "json", _console(False), _console(True))


def _json_wanted(ctx: click.Context) -> bool:
    flags = ctx.find_root().meta.get(FLAGS, {})
    return (flags.get("output") or os.environ.get("INTERCONNECT_OUTPUT") or "table") == "json"


def fail(ctx: click.Context, code: Exit, error_code: str, message: str, details: dict[str, Any] | None = None) -> None:
    """Say what went wrong (stderr; with --output json the error object on stdout) and exit with `code`."""
    if _json_wanted(ctx):
        body: dict[str, Any] = {"code": error_code, "message": message}
        if details:
            body["details"] = details
        click.echo(json.dumps({"error": body, "exitCode": int(code)}, indent=2))
    else:
        _console(True).print(render.error(error_code, message, details))
    ctx.exit(int(code))


def handled(command: Callable[P, R]) -> Callable[P, R]:
    """Turn what can go wrong into a message and its exit code (never a traceback, never a secret)."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        ctx = click.get_current_context()
        try:
            return command(*args, **kwargs)
        except ConfigError as exc:
            fail(ctx, Exit.USAGE, "CONFIG", str(exc))
        except ApiError as exc:
            fail(ctx, for_http_status(exc.status), exc.code, exc.message, exc.details)
        except AuthFailed as exc:
            fail(ctx, Exit.AUTH, "SIGN_IN_FAILED", str(exc))
        except Unreachable as exc:
            hint = "is the app running there? `interconnect config` shows the URL in use and where it came from"
            fail(ctx, Exit.UNREACHABLE, "UNREACHABLE", f"{exc} ({hint})")
        except IdentityUnreachable as exc:
            fail(ctx, Exit.UNREACHABLE, "UNREACHABLE", str(exc))
        except Interrupted as exc:
            fail(ctx, Exit.INTERRUPTED, "INTERRUPTED", str(exc))
        raise AssertionError("unreachable")  # fail() exits

    return wrapper


# -- following a request ----------------------------------------------------------------------------------------


class WaitLine:
    """The spinner's text, re-rendered as it spins: the status last read and the time so far."""

    def __init__(self, what: str, kind: str = "request") -> None:
        self.what, self.kind, self.status, self.started = what, kind, "", time.monotonic()

    def __rich__(self) -> Text:
        return render.waiting(self.what, self.status, self.started, self.kind)


@dataclass
class LiveProgress:
    """Each audit-trail event printed as it appears, above a spinner showing status and elapsed time."""

    out: Console
    line: WaitLine

    def event(self, event: dict[str, Any], elapsed: float) -> None:
        self.out.print(render.event_line(event, elapsed))

    def status(self, status: str) -> None:
        self.line.status = status

    def problem(self, text: str, elapsed: float) -> None:
        self.out.print(Text(f"{'':9}still trying: {text}", style="yellow"))


def timing_options(command: Callable[P, R]) -> Callable[P, R]:
    command = click.option(
        "--interval", type=click.FloatRange(0.2, 60), default=2.0, show_default=True, help="Seconds between reads."
    )(command)
    return click.option(
        "--timeout",
        type=click.FloatRange(0),
        default=3600.0,
        show_default=True,
        help="Seconds to wait before giving up (exit 6; the request goes on). 0: no limit.",
    )(command)


class Interrupted(Exception):
    """Ctrl-C while following: only the following stops; the request (or audit run) goes on in the app."""


def _follow(
    s: Session,
    what: str,
    kind: str,
    resume: str,
    follow: Callable[[Follower], Outcome],
    *,
    timeout: float,
    interval: float,
) -> Outcome:
    """`follow` a request or change set (`kind` `what`) to its end, with a spinner unless the output is JSON;
    Ctrl-C stops only the following, saying the command that `resume`s it."""
    follower = Follower(s.api, Silent(), interval, timeout or None)
    try:
        if s.json_output:
            return follow(follower)
        line = WaitLine(what, kind)
        follower.progress = LiveProgress(s.out, line)
        with s.out.status(line, spinner="dots"):
            return follow(follower)
    except KeyboardInterrupt:
        raise Interrupted(f"stopped following {kind} {what}; it goes on: {resume}") from None


def _ended_view(
    ctx: click.Context, outcome: Outcome, what: str, kind: str, id_key: str, resume: str, timeout: float
) -> dict[str, Any]:
    """The view where a request or change set (`kind` `what`, `id_key` in the error's details) ended; exit 6
    TIMED_OUT, saying the command that `resume`s following, when it had not ended by the deadline."""
    view = outcome.view
    if not outcome.finished:
        if view is None and outcome.problem is not None:
            raise outcome.problem
        status = str((view or {}).get("status", "unknown"))
        fail(
            ctx,
            Exit.TIMED_OUT,
            "TIMED_OUT",
            f"{kind} {what} is still {status} after {render.duration(timeout)}; it goes on in the app: {resume}",
            {id_key: what, "status": status},
        )
    assert view is not None
    return view


def follow_request(s: Session, request_id: str, *, timeout: float, interval: float) -> Outcome:
    resume = f"interconnect wait {request_id}"
    return _follow(
        s, request_id, "request", resume, lambda f: f.request(request_id), timeout=timeout, interval=interval
    )


def finish(ctx: click.Context, s: Session, outcome: Outcome, request_id: str, timeout: float) -> None:
    """Show where the request ended and exit with its code (6 when it had not ended by the deadline)."""
    view = _ended_view(ctx, outcome, request_id, "request", "requestId", f"interconnect wait {request_id}", timeout)
    status = str(view.get("status", ""))
    if s.json_output:
        click.echo(json.dumps(view, indent=2))
    else:
        summary = Text.assemble(("Request ", "bold"), request_id, " ", render.status_text(status))
        if view.get("outcome"):
            summary.append(f": {view['outcome']}")
        s.out.print(summary)
        for reason in view.get("reasons") or []:
            s.out.print(Text(f"  {reason.get('code', '')}: {reason.get('message', '')}", style="red"))
    ctx.exit(int(for_status(status)))


# -- the commands -----------------------------------------------------------------------------------------------


class RequestId(click.ParamType[str, Any]):
    """A request id: a UUID, lower-cased (checked here, so a typo is bad usage, exit 2)."""

    name = "REQUEST_ID"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            return str(click.UUID.convert(value, param, ctx))
        except click.BadParameter:
            self.fail(f"{value!r} is not a request id (a UUID like 0b6f5c1e-8d0a-4d8e-9a43-2f1f0c7d9e21)", param, ctx)


REQUEST_ID = RequestId()
CLOUD_HELP = "Clouds are full ARM ids, 'name' or 'resource-group/name' (resolved by the app, as chat does)."


@click.group(
    epilog=HELP,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
)
@click.version_option(package_name="interconnect-cli", prog_name="interconnect", message="%(prog)s %(version)s")
@global_options
def cli() -> None:
    """Plan, make and remove links between Azure VMware Solution private clouds, through the interconnect app.

    \b
    Settings come from flags, then INTERCONNECT_* environment variables, then the config file's profile
    (~/.config/interconnect/config.toml). Against `make run` (its printout has the same, with a function key
    only when its host checks keys):
      interconnect --url http://127.0.0.1:7071 --identity-url http://127.0.0.1:7079 \\
                   --demo-user alice plan pc-sea-01 pc-sea-02
    """


def _plan_or_submit_args(command: Callable[P, R]) -> Callable[P, R]:
    command = click.argument("target")(command)
    return click.argument("source")(command)


TOPOLOGY_HELP = (
    "With -f: the topology document (YAML or JSON, `-` for stdin; its schema is TopologyDocument in the app's "
    "/api/openapi.json) is planned as a whole: every link to connect, repair or disconnect, in the order it would "
    "be filed, each step's verdict and reasons, what each disconnect cuts, the links that stay and those outside "
    "the scope. Exit 0 allowed (with --detailed-exitcode: 0 nothing to change, 10 changes), 3 refused."
)


@cli.command(epilog=f"{CLOUD_HELP}\n\n{TOPOLOGY_HELP}")
@click.argument("source", required=False)
@click.argument("target", required=False)
@click.option("--disconnect", "action", flag_value="disconnect", help="Plan removing the link instead.")
@click.option("--connect", "action", flag_value="connect", default=True, hidden=True)
@click.option(
    "-f",
    "--file",
    "document_file",
    type=click.File("rb"),
    help="Plan a topology document instead (YAML or JSON; - reads stdin).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="With -f: write the plan and its fingerprint to FILE, for `apply -f DOC --plan FILE`.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "markdown"]),
    default="table",
    show_default=True,
    help="With -f: markdown prints the plan as Markdown, for a pull-request comment.",
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="With -f: exit 0 only when there is nothing to change, 10 when the plan is allowed and changes links.",
)
@global_options
@click.pass_context
@handled
def plan(
    ctx: click.Context,
    source: str | None,
    target: str | None,
    action: str,
    document_file: IO[bytes] | None,
    out: Path | None,
    fmt: str,
    detailed_exitcode: bool,
) -> None:
    """What connecting SOURCE to TARGET would do, or what the topology document -f FILE would change; checked on
    live facts, changes nothing.

    \b
      interconnect plan pc-a pc-b                 one request: exit 0 allowed, 3 refused (the reasons listed)
      interconnect plan -f topology.yaml          the whole change a document asks for (see below)
    """
    if document_file is not None:
        if source or target or action == "disconnect":
            raise click.UsageError("plan -f FILE plans the document; SOURCE, TARGET and --disconnect plan one request")
        document = estate.read_document(document_file, getattr(document_file, "name", "-"))
        _plan_document(ctx, document, out, fmt, detailed_exitcode)
        return
    if out or fmt != "table" or detailed_exitcode:
        raise click.UsageError("--out, --format and --detailed-exitcode go with -f FILE (a topology document)")
    if not source or not target:
        raise click.UsageError("give SOURCE and TARGET (one request), or -f FILE (a topology document)")
    with session(ctx) as s:
        a, b = s.api.resolve_cloud(source), s.api.resolve_cloud(target)
        answer = s.api.plan(action, a, b)
        s.show(render.plan(answer, action, a, b), answer)
    ctx.exit(int(Exit.OK if answer.get("allowed") else Exit.REJECTED))


def _plan_document(
    ctx: click.Context, document: estate.Document, out: Path | None, fmt: str, detailed_exitcode: bool
) -> None:
    if fmt == "markdown" and _json_wanted(ctx):
        raise click.UsageError("--format markdown and --output json both say what stdout holds: pick one")
    with session(ctx) as s:
        try:
            answer = s.api.plan_topology(document.content, document.content_type)
        except ApiError as exc:
            if fmt == "markdown" and exc.status < 500 and exc.status not in (401, 403):
                # The pull request's comment says why the document was refused; stderr and the exit say it too.
                click.echo(estate.error_markdown(document.name, exc.code, exc.message, exc.details), nl=False)
            raise
        if out is not None:
            estate.write_plan_file(out, document, answer)
        if fmt == "markdown":
            click.echo(estate.plan_markdown(answer, document.name), nl=False)
        else:
            s.show(estate.plan_view(answer, document.name), answer)
        if out is not None and not s.json_output:
            s.err.print(f"plan written to {out}: interconnect apply -f {document.name} --plan {out}")
    if not answer.get("allowed"):
        ctx.exit(int(Exit.REJECTED))
    ctx.exit(int(Exit.CHANGES if detailed_exitcode and estate.has_changes(answer) else Exit.OK))


def _submit(
    ctx: click.Context,
    action: str,
    source: str,
    target: str,
    ticket: str | None,
    idempotency_key: str | None,
    wait: bool,
    timeout: float,
    interval: float,
) -> None:
    with session(ctx) as s:
        a, b = s.api.resolve_cloud(source), s.api.resolve_cloud(target)
        answer, created = s.api.submit(action, a, b, reference=ticket, idempotency_key=idempotency_key)
        request_id = str(answer["requestId"])
        if not wait:
            s.show(render.accepted(answer, action, a, b, repeat=not created), answer)
            return
        if not s.json_output:
            s.out.print(render.accepted(answer, action, a, b, repeat=not created))
        finish(ctx, s, follow_request(s, request_id, timeout=timeout, interval=interval), request_id, timeout)


def _submit_options(command: Callable[P, R]) -> Callable[P, R]:
    command = timing_options(command)
    command = click.option("--wait", is_flag=True, help="Follow the request until it ends; exit by its outcome.")(
        command
    )
    command = click.option(
        "--idempotency-key", metavar="KEY", help="The same key always maps to the same request (safe re-runs)."
    )(command)
    command = click.option("--ticket", metavar="REF", help="Ticket or change id recorded with the request.")(command)
    return _plan_or_submit_args(command)


@cli.command(epilog=CLOUD_HELP)
@_submit_options
@global_options
@click.pass_context
@handled
def connect(
    ctx: click.Context,
    source: str,
    target: str,
    ticket: str | None,
    idempotency_key: str | None,
    wait: bool,
    timeout: float,
    interval: float,
) -> None:
    """Ask for a link from SOURCE to TARGET (made on SOURCE).

    Without --wait: exit 0 once the app accepted it. With --wait: each step as it happens, then exit 0
    Succeeded, 3 Rejected, 4 Failed, 6 timed out.
    """
    _submit(ctx, "connect", source, target, ticket, idempotency_key, wait, timeout, interval)


@cli.command(epilog=CLOUD_HELP)
@_submit_options
@global_options
@click.pass_context
@handled
def disconnect(
    ctx: click.Context,
    source: str,
    target: str,
    ticket: str | None,
    idempotency_key: str | None,
    wait: bool,
    timeout: float,
    interval: float,
) -> None:
    """Ask for the link between SOURCE and TARGET to be removed.

    It waits for someone else's approval (`interconnect approve ID`) when approvals are on. With --wait: exit
    0 Succeeded, 3 Rejected, 4 Failed, 5 Expired (nobody approved in time), 6 timed out.
    """
    _submit(ctx, "disconnect", source, target, ticket, idempotency_key, wait, timeout, interval)


class ChangeSetId(RequestId):
    name = "CHANGESET_ID"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            return str(click.UUID.convert(value, param, ctx))
        except click.BadParameter:
            self.fail(f"{value!r} is not a change set id (a UUID, as `apply` printed it)", param, ctx)


CHANGESET_ID = ChangeSetId()


@cli.command(
    epilog="The document's schema is TopologyDocument in the app's /api/openapi.json; the README's "
    '"Links as code" has the GitOps setup (plan on a pull request, apply on merge).'
)
@click.option(
    "-f",
    "--file",
    "document_file",
    type=click.File("rb"),
    required=True,
    help="The topology document (YAML or JSON; - reads stdin), byte for byte as planned.",
)
@click.option("--fingerprint", metavar="v1:…", help="The fingerprint of the plan that was reviewed.")
@click.option(
    "--plan",
    "plan_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The plan file `plan -f DOC --out FILE` wrote: its fingerprint, checked to be this document's.",
)
@click.option(
    "--idempotency-key", metavar="KEY", help="The same key always maps to the same change set (safe re-runs)."
)
@click.option("--wait", is_flag=True, help="Follow the change set until it ends, each step as it happens.")
@timing_options
@global_options
@click.pass_context
@handled
def apply(
    ctx: click.Context,
    document_file: IO[bytes],
    fingerprint: str | None,
    plan_path: Path | None,
    idempotency_key: str | None,
    wait: bool,
    timeout: float,
    interval: float,
) -> None:
    """Apply a topology document: the app plans it again and, when the plan is still the one reviewed (the same
    fingerprint), files its steps in order as requests, through the same rules, approvals and audit trail.

    \b
    The reviewed plan comes from --fingerprint or --plan FILE; with neither, the document is planned here first
    (the plan is shown) and that plan is applied. Nothing to change: exit 0 (the document is still registered,
    so the audit reports drift from it). Without --wait: exit 0 once the change set started. With --wait: each
    step as it happens (a disconnect awaiting approval says who approves and where), then exit 0 Succeeded, or
    by the step that stopped it: 3 Rejected, 4 Failed, 5 Expired; 6 timed out. A refused plan exits 3; a plan
    the estate has moved on from is PLAN_CHANGED (exit 8): plan again.
    """
    if fingerprint and plan_path:
        raise click.UsageError("--fingerprint and --plan both name the reviewed plan: give one")
    document = estate.read_document(document_file, getattr(document_file, "name", "-"))
    with session(ctx) as s:
        if fingerprint:
            reviewed = estate.fingerprint(fingerprint)
        elif plan_path is not None:
            reviewed = estate.read_plan_file(plan_path, document)
        else:
            planned = s.api.plan_topology(document.content, document.content_type)
            if not s.json_output:
                s.out.print(estate.plan_view(planned, document.name))
            if not planned.get("allowed"):
                problems = [r for step in planned.get("steps") or [] for r in step.get("reasons") or []]
                problems += planned.get("endState") or []
                details = {"problems": problems, "plan": planned}
                fail(ctx, Exit.REJECTED, "PLAN_REFUSED", "the plan is refused: nothing was applied", details)
            reviewed = estate.fingerprint(str(planned.get("fingerprint", "")), "the plan's fingerprint")
        try:
            answer, _ = s.api.apply_topology(
                document.content, document.content_type, reviewed, idempotency_key=idempotency_key
            )
        except ApiError as exc:
            if exc.code == "PLAN_REFUSED":
                if isinstance(exc.details.get("plan"), dict) and not s.json_output:
                    s.out.print(estate.plan_view(exc.details["plan"], document.name))
                fail(ctx, Exit.REJECTED, exc.code, exc.message, exc.details)
            if exc.code == "PLAN_CHANGED":
                now = exc.details.get("fingerprint")
                exc.message = (
                    f"{exc.message}; nothing was applied{f' (the plan now is {now})' if now else ''}: plan it "
                    f"again (interconnect plan -f {document.name}) and review what changed"
                )
            raise
        changeset_id = answer.get("changeSetId")
        if not changeset_id:
            message = str(answer.get("message") or "nothing to change")
            s.show(Text(f"{document.name}: {message}; the estate already is as declared"), answer)
            return
        if not wait:
            s.show(estate.changeset_accepted(answer, document.name), answer)
            return
        if not s.json_output:
            s.out.print(estate.changeset_accepted(answer, document.name))
        _follow_changeset(ctx, s, str(changeset_id), timeout=timeout, interval=interval)


def _follow_changeset(ctx: click.Context, s: Session, changeset_id: str, *, timeout: float, interval: float) -> None:
    """Each step as its status changes, then the change set where it ended; exit by the step that stopped it."""
    console = f"{s.settings.url}/api/console"

    def on_step(step: dict[str, Any], view: dict[str, Any], elapsed: float) -> None:
        if not s.json_output:
            s.out.print(estate.changeset_step_line(step, elapsed, estate.requester_of(view), console))

    resume = f"interconnect changeset {changeset_id} --wait"
    outcome = _follow(
        s,
        changeset_id,
        "change set",
        resume,
        lambda f: f.changeset(changeset_id, on_step),
        timeout=timeout,
        interval=interval,
    )
    view = _ended_view(ctx, outcome, changeset_id, "change set", "changeSetId", resume, timeout)
    s.show(estate.changeset_view(view), view)
    if view.get("status") == "Succeeded":
        ctx.exit(int(Exit.OK))
    stopped = estate.failed_step(view)
    ctx.exit(int(for_status(str(stopped.get("status"))) if stopped else Exit.FAILED))


@cli.command()
@click.argument("changeset_id", type=CHANGESET_ID)
@click.option("--wait", is_flag=True, help="Follow it until it ends, each step as it happens.")
@timing_options
@global_options
@click.pass_context
@handled
def changeset(ctx: click.Context, changeset_id: str, wait: bool, timeout: float, interval: float) -> None:
    """A change set `apply` started: its steps, each with its request and status.

    Exit 0 once read; with --wait, as `apply --wait`: 0 Succeeded, 3/4/5 by the step that stopped it, 6 timed out.
    """
    with session(ctx) as s:
        if wait:
            _follow_changeset(ctx, s, changeset_id, timeout=timeout, interval=interval)
            return
        view = s.api.changeset(changeset_id)
        s.show(estate.changeset_view(view), view)


@cli.command()
@click.argument("request_id", type=REQUEST_ID)
@global_options
@click.pass_context
@handled
def status(ctx: click.Context, request_id: str) -> None:
    """A request: where it stands, its outcome, its reasons, its audit trail and, for a disconnect not yet under
    way, what it cuts. Exit 0 once read."""
    from interconnect_cli.impact import with_impact

    with session(ctx) as s:
        view = s.api.request(request_id)
        s.show(with_impact(render.request(view), view), view)


@cli.command()
@click.argument("request_id", type=REQUEST_ID)
@timing_options
@global_options
@click.pass_context
@handled
def wait(ctx: click.Context, request_id: str, timeout: float, interval: float) -> None:
    """Follow a request until it ends, showing each step as it happens.

    Exit 0 Succeeded, 3 Rejected, 4 Failed, 5 Expired, 6 timed out (the request goes on).
    """
    with session(ctx) as s:
        finish(ctx, s, follow_request(s, request_id, timeout=timeout, interval=interval), request_id, timeout)


@cli.command()
@click.option("--cloud", metavar="CLOUD", help="Only requests with this cloud as source or target.")
@click.option("--status", "status_", type=click.Choice(STATUSES), help="Only requests in this status.")
@click.option("--limit", type=click.IntRange(1, 100), default=50, show_default=True)
@click.option("--continuation", metavar="TOKEN", help="The next page: the token the previous page answered.")
@global_options
@click.pass_context
@handled
def requests(ctx: click.Context, cloud: str | None, status_: str | None, limit: int, continuation: str | None) -> None:
    """Recent requests, newest first (a page at a time: pass --continuation back with the same filters)."""
    with session(ctx) as s:
        page = s.api.requests(
            cloud=s.api.resolve_cloud(cloud) if cloud else None, status=status_, limit=limit, continuation=continuation
        )
        s.show(render.requests(page), page)


@cli.command(epilog=CLOUD_HELP)
@click.argument("cloud")
@global_options
@click.pass_context
@handled
def links(ctx: click.Context, cloud: str) -> None:
    """A cloud's links as AVS has them now (outgoing and incoming)."""
    with session(ctx) as s:
        answer = s.api.links(s.api.resolve_cloud(cloud))
        s.show(render.links(answer), answer)


def _decide(ctx: click.Context, request_id: str, *, approve: bool) -> None:
    with session(ctx) as s:
        if not s.api.credentials.signs_in:
            raise ConfigError(
                "deciding needs a person signed in with Entra: --auth cli|device (with --scope), or on the local "
                "cloud --demo-user <name>; a function key alone can never approve"
            )
        view = s.api.decide(request_id, approve=approve)
        s.show(render.request(view), view)


@cli.command()
@click.argument("request_id", type=REQUEST_ID)
@global_options
@click.pass_context
@handled
def approve(ctx: click.Context, request_id: str) -> None:
    """Approve a disconnect someone else asked for (needs an Entra sign-in; exit 7 when refused)."""
    _decide(ctx, request_id, approve=True)


@cli.command()
@click.argument("request_id", type=REQUEST_ID)
@global_options
@click.pass_context
@handled
def reject(ctx: click.Context, request_id: str) -> None:
    """Reject a disconnect awaiting approval (needs an Entra sign-in); it ends Rejected, nothing changes."""
    _decide(ctx, request_id, approve=False)


@cli.group()
def audit() -> None:
    """Audit runs: start one, or read the latest."""


@audit.command("run")
@click.option("--wait", is_flag=True, help="Wait until the run is done and show it.")
@timing_options
@global_options
@click.pass_context
@handled
def audit_run(ctx: click.Context, wait: bool, timeout: float, interval: float) -> None:
    """Start an audit run now (the worker carries it out)."""
    with session(ctx) as s:
        started = s.api.start_audit()
        run_id = str(started["runId"])
        if not wait:
            s.show(Text(f"Audit run {run_id} queued: interconnect audit show {run_id}"), started)
            return
        follower = Follower(s.api, Silent(), interval, timeout or None)
        try:
            if s.json_output:
                outcome = follower.audit(run_id)
            else:
                with s.out.status(f"audit run {run_id} …", spinner="dots"):
                    outcome = follower.audit(run_id)
        except KeyboardInterrupt:
            raise Interrupted(
                f"stopped waiting for audit run {run_id}; it goes on: interconnect audit show {run_id}"
            ) from None
        if not outcome.finished or outcome.view is None:
            if outcome.problem is not None:
                raise outcome.problem
            fail(ctx, Exit.TIMED_OUT, "TIMED_OUT", f"audit run {run_id} has not finished; it goes on in the app")
        assert outcome.view is not None
        s.show(render.audit(outcome.view), outcome.view)


def with_first_audit_hint(exc: ApiError) -> ApiError:
    """On a fresh deployment (or `make run`) no audit has run until the schedule fires: say how to start one."""
    if exc.status == 404 and exc.code == "AUDIT_NOT_FOUND":
        exc.message = f"{exc.message}; start one with `interconnect audit run --wait`"
    return exc


@audit.command("latest")
@global_options
@click.pass_context
@handled
def audit_latest(ctx: click.Context) -> None:
    """The latest audit run: summary and findings."""
    with session(ctx) as s:
        try:
            run = s.api.audit("latest")
        except ApiError as exc:
            raise with_first_audit_hint(exc) from None
        s.show(render.audit(run), run)


@audit.command("show")
@click.argument("run_id", type=REQUEST_ID)
@global_options
@click.pass_context
@handled
def audit_show(ctx: click.Context, run_id: str) -> None:
    """One audit run by its id."""
    with session(ctx) as s:
        run = s.api.audit(run_id)
        s.show(render.audit(run), run)


@cli.command()
@click.option("--format", "fmt", type=click.Choice(TOPOLOGY_FORMATS), default="json", show_default=True)
@click.option("--save", type=click.Path(dir_okay=False, writable=True, path_type=Path), help="Write it to a file.")
@global_options
@click.pass_context
@handled
def topology(ctx: click.Context, fmt: str, save: Path | None) -> None:
    """The latest audit's topology: json (as tables, or the API's JSON with -o json), mermaid, dot or svg.

    Mermaid, dot and svg come out as the app drew them; with -o json, inside {"format", "content"} so stdout
    stays JSON. --save writes the drawing itself to FILE.
    """
    with session(ctx) as s:
        try:
            body, _ = s.api.topology(fmt)
        except ApiError as exc:
            raise with_first_audit_hint(exc) from None
        if save is not None:
            save.write_bytes(body)
            if s.json_output:
                click.echo(json.dumps({"format": fmt, "savedTo": str(save), "bytes": len(body)}, indent=2))
            else:
                s.err.print(f"wrote {len(body)} bytes of {fmt} to {save}")
        elif fmt == "json":
            # The API's JSON as it came with -o json (a pipeline reads it), else tables.
            if s.json_output:
                click.echo(body.decode("utf-8"), nl=not body.endswith(b"\n"))
            else:
                s.out.print(render.topology(json.loads(body)))
        elif s.json_output:
            click.echo(json.dumps({"format": fmt, "content": body.decode("utf-8")}, indent=2))
        else:
            click.echo(body.decode("utf-8"), nl=not body.endswith(b"\n"))


@cli.command("config")
@global_options
@click.pass_context
@handled
def show_config(ctx: click.Context) -> None:
    """The settings in effect and where each came from (the function key only as set or not)."""
    with session(ctx) as s:
        described = s.settings.describe()
        s.show(Text(json.dumps(described, indent=2)), described)


def main() -> None:
    cli(prog_name="interconnect")
