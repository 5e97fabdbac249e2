"""Who acts is proven, not claimed: real signed tokens from the local Entra stand-in, through the local host.

Every identity here comes from a token the stand-in signed (localdev/identity), or from one the test forged to
be refused; no test types a principal header and expects it to be believed.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from localdev import identity
from localdev.armsim import ArmSimAdmin
from localdev.cloud import LocalCloud, console_demo, sign_in_demo
from localdev.procs import ROOT, free_port, wait_until
from tests.e2e import contract
from tests.e2e.conftest import App, load_clouds, pc, running_app

pytestmark = pytest.mark.e2e

ALICE, BOB, CAROL = (identity.USERS[name] for name in ("alice", "bob", "carol"))
AUTOMATION = identity.APPS["automation"]
# Connects by the network group, disconnects by the request role, approvals by the operations group; and the
# platform's automation by function key for both.
POLICY = {
    "rules": [
        {"requesters": [f"group:{identity.NETWORK_GROUP}", "api:key"], "actions": ["connect"], "scopes": ["*"]},
        {"requesters": ["role:Links.Request", "api:key"], "actions": ["disconnect"], "scopes": ["*"]},
    ],
    "approvers": [f"group:{identity.OPS_GROUP}"],
}


@pytest.fixture(scope="module")
def signed_in_app() -> Iterator[App]:
    yield from running_app(INTERCONNECT_APPROVALS="on", INTERCONNECT_POLICY=json.dumps(POLICY))


def bearer(running: App, **ask: Any) -> dict[str, str]:
    """A real token from the stand-in: bearer(app, user="alice"), bearer(app, app="automation")."""
    return {"Authorization": f"Bearer {identity.token(running.cloud.identity_url, **ask)}"}


@pytest.fixture
def linked(signed_in_app: App) -> dict[str, str]:
    clouds = [pc("a", "10.0.0.0/22", links=[{"target": "b"}]), pc("b", "10.0.4.0/22"), pc("c", "10.0.8.0/22")]
    return load_clouds(signed_in_app, clouds)


def disconnect(app: App, clouds: dict[str, str], headers: dict[str, str] | None = None) -> str:
    response = app.call(
        "POST", "requests", {"action": "disconnect", "source": clouds["a"], "target": clouds["b"]}, headers=headers
    )
    assert response.status == 202, response.body
    app.wait_for(response.body["requestId"], "AwaitingApproval")
    return response.body["requestId"]


def unchanged(app: App, request_id: str, links: list[Any]) -> None:
    """Still waiting, nobody recorded as deciding, and the links as they were."""
    view = app.call("GET", f"requests/{request_id}").body
    assert view["status"] == "AwaitingApproval" and view["approval"]["decidedBy"] in (None, "")
    assert [e["status"] for e in view["events"] if e.get("kind") == "status"] == ["Accepted", "AwaitingApproval"]
    assert app.links() == links and links


def test_the_issues_three_step_forgery_is_refused_at_step_three_with_nothing_changed(
    signed_in_app: App, linked: dict[str, str]
) -> None:
    app = signed_in_app
    rid = disconnect(app, linked)  # 1. one function key files a disconnect
    links = app.links()
    assert app.call("GET", f"requests/{rid}").body["requestedBy"]["id"] == "key"
    step2 = app.call("POST", f"requests/{rid}/approve")  # 2. the same key approves: nobody signed in
    assert step2.status == 401 and step2.body["error"]["code"] == "AUTHENTICATION_REQUIRED"
    forged = {"x-ms-client-principal-id": str(uuid.uuid4()), "x-ms-client-principal-name": "mallory@contoso.example"}
    step3 = app.call("POST", f"requests/{rid}/approve", headers=forged)  # 3. with a principal typed in headers
    assert step3.status == 401 and step3.body["error"]["code"] == "AUTHENTICATION_REQUIRED"
    assert app.call("POST", f"requests/{rid}/reject", headers=forged).status == 401
    unchanged(app, rid, links)


def test_a_forged_base64_client_principal_is_no_identity_anywhere(signed_in_app: App, linked: dict[str, str]) -> None:
    app = signed_in_app
    claims = {
        "auth_typ": "aad",
        "userId": BOB.oid,
        "userDetails": BOB.username,
        "claims": [{"typ": "roles", "val": "Links.Approve"}],
    }
    forged = {
        "x-ms-client-principal": base64.b64encode(json.dumps(claims).encode()).decode(),
        "x-ms-client-principal-id": BOB.oid,
        "x-ms-client-principal-name": BOB.username,
    }
    rid = disconnect(app, linked, headers=forged)
    links = app.links()
    assert app.call("GET", f"requests/{rid}").body["requestedBy"]["id"] == "key"  # filed as what it is
    answer = app.call("POST", f"requests/{rid}/approve", headers=forged)
    assert answer.status == 401 and answer.body["error"]["code"] == "AUTHENTICATION_REQUIRED"
    unchanged(app, rid, links)


def _stand_in_kid(app: App) -> str:
    header = identity.token(app.cloud.identity_url, user="bob").split(".")[0]
    return json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]


def _token_signed_by_another_key(app: App, user: identity.DemoUser) -> str:
    """Bob's exact claims and the tenant's key id, signed by a key the tenant never published."""
    now = int(time.time())
    claims = {
        "iss": identity.issuer(app.cloud.identity_url),
        "aud": identity.CLIENT_ID,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "oid": user.oid,
        "name": user.name,
        "scp": "Links.Access",
        "roles": list(user.roles),
        "groups": list(user.groups),
    }
    return jwt.encode(
        claims, rsa.generate_private_key(65537, 2048), algorithm="RS256", headers={"kid": _stand_in_kid(app)}
    )


@pytest.mark.parametrize(
    ("make", "status", "code"),
    [
        (lambda app: {"Authorization": f"Bearer {_token_signed_by_another_key(app, BOB)}"}, 401, "TOKEN_INVALID"),
        (lambda app: bearer(app, user="bob", expiresIn=-600), 401, "TOKEN_EXPIRED"),
        (lambda app: bearer(app, user="bob", audience="api://another-app"), 401, "TOKEN_AUDIENCE"),
        (lambda app: bearer(app, app="automation", roles=["Links.Approve"]), 403, "APPROVER_NOT_VERIFIED"),
    ],
)
def test_tokens_that_must_not_approve_are_refused_with_nothing_changed(
    signed_in_app: App, linked: dict[str, str], make: Any, status: int, code: str
) -> None:
    app = signed_in_app
    rid = disconnect(app, linked, headers=bearer(app, user="alice"))
    links = app.links()
    answer = app.call("POST", f"requests/{rid}/approve", headers=make(app))
    assert (answer.status, answer.body["error"]["code"]) == (status, code)
    unchanged(app, rid, links)


def test_a_bad_token_on_intake_is_refused_and_nothing_is_stored(signed_in_app: App, linked: dict[str, str]) -> None:
    app = signed_in_app
    before = app.request_rows()
    for headers in (
        bearer(app, user="alice", expiresIn=-600),
        {"Authorization": f"Bearer {_token_signed_by_another_key(app, ALICE)}"},
    ):
        answer = app.call(
            "POST", "requests", {"action": "disconnect", "source": linked["a"], "target": linked["b"]}, headers=headers
        )
        assert answer.status == 401 and answer.body["error"]["code"] in ("TOKEN_EXPIRED", "TOKEN_INVALID")
    assert app.request_rows() == before


def test_requester_files_a_non_approver_is_refused_an_approver_approves_and_the_trail_names_them(
    signed_in_app: App, linked: dict[str, str]
) -> None:
    app = signed_in_app
    rid = disconnect(app, linked, headers=bearer(app, user="alice"))
    links = app.links()
    view = app.call("GET", f"requests/{rid}").body
    assert view["requestedBy"] == {"channel": "api", "id": ALICE.oid, "display": ALICE.name}
    own = app.call("POST", f"requests/{rid}/approve", headers=bearer(app, user="alice"))
    assert own.status == 403 and own.body["error"]["code"] == "SELF_APPROVAL"
    carol = app.call("POST", f"requests/{rid}/approve", headers=bearer(app, user="carol"))
    assert carol.status == 403 and carol.body["error"]["code"] == "NOT_AN_APPROVER"
    unchanged(app, rid, links)
    bob = app.call("POST", f"requests/{rid}/approve", headers=bearer(app, user="bob"))
    assert bob.status == 200 and bob.body["approval"]["decidedBy"] == f"api:{BOB.oid}"
    done = app.wait(rid)
    assert done["status"] == "Succeeded", done
    trail = [(e["status"], e["actor"], e["message"]) for e in done["events"] if e.get("kind") == "status"]
    assert trail[0][:2] == ("Accepted", f"api:{ALICE.oid}")
    assert ("Validating", f"api:{BOB.oid}", f"approved by {BOB.name} (api:{BOB.oid})") in trail


def test_the_policy_matches_a_rule_by_group_and_by_role(signed_in_app: App, linked: dict[str, str]) -> None:
    app = signed_in_app
    # By group: Carol (network engineering, no app role) may connect; Alice (operations) may not.
    by_group = app.call(
        "POST",
        "requests",
        {"action": "connect", "source": linked["b"], "target": linked["c"]},
        headers=bearer(app, user="carol"),
    )
    assert by_group.status == 202, by_group.body
    assert app.wait(by_group.body["requestId"])["status"] == "Succeeded"
    refused = app.call(
        "POST",
        "requests",
        {"action": "connect", "source": linked["a"], "target": linked["c"]},
        headers=bearer(app, user="alice"),
    )
    done = app.wait(refused.body["requestId"])
    assert done["status"] == "Rejected" and done["reasons"][0]["code"] == "REQUESTER_NOT_ALLOWED"
    # By role: a disconnect by Carol (no Links.Request) is refused when validated after its approval; the same
    # disconnect by the automation (Links.Request) goes through.
    carol = disconnect(app, linked, headers=bearer(app, user="carol"))
    assert app.call("POST", f"requests/{carol}/approve", headers=bearer(app, user="bob")).status == 200
    done = app.wait(carol)
    assert done["status"] == "Rejected" and done["reasons"][0]["code"] == "REQUESTER_NOT_ALLOWED"
    sp = disconnect(app, linked, headers=bearer(app, app="automation"))
    assert app.call("GET", f"requests/{sp}").body["requestedBy"]["id"] == f"sp:{AUTOMATION.app_id}"
    # And the approvers by group: Bob is in operations, so the disconnect the automation asked for goes on.
    assert app.call("POST", f"requests/{sp}/approve", headers=bearer(app, user="bob")).status == 200
    assert app.wait(sp)["status"] == "Succeeded"


def test_the_sign_in_lines_make_run_prints_file_and_approve_a_disconnect_as_two_people() -> None:
    # What a newcomer does: the demo fleet, no function keys (as `make run`), and the printed lines run in a shell.
    with LocalCloud(host_port=free_port()) as cloud:
        lines = sign_in_demo(cloud).split("from the repository root, with the venv's python):\n")[1]
        commands = [line.strip() for line in lines.splitlines()]
        script = "\n".join(commands)
        filing, checks = script.split(f"curl -s {cloud.host_url}/api/requests/$ID ", 1)
        found = subprocess.run(
            ["bash", "-ec", filing + 'echo "$ALICE $BOB $ID"'],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.split()
        alice, bob, request_id = found[-3:]
        admin = ArmSimAdmin(cloud.arm_url)
        before = len(admin.state()["links"])

        def status() -> str:
            path = f"requests/{request_id}"
            with urllib.request.urlopen(f"{cloud.host_url}/api/{path}", timeout=10) as answer:
                body = answer.read()
                contract.check("GET", path, answer.status, dict(answer.headers), body)
                return str(json.loads(body)["status"])

        wait_until(lambda: status() == "AwaitingApproval", 30, interval=0.2, what="the demo disconnect to wait")
        approvals = [c for c in checks.splitlines() if c.startswith("curl -s -X POST")]
        replies = [
            subprocess.run(
                ["bash", "-ec", command.split("   #")[0]],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
                env={**os.environ, "ALICE": alice, "BOB": bob, "ID": request_id},
            ).stdout
            for command in approvals
        ]
        assert json.loads(replies[0])["error"]["code"] == "SELF_APPROVAL"
        assert json.loads(replies[1])["approval"]["decidedBy"] == f"api:{BOB.oid}"
        wait_until(lambda: status() == "Succeeded", 60, interval=0.2, what="the demo disconnect to finish")
        assert len(admin.state()["links"]) == before - 1


def test_make_run_prints_the_console_and_whom_to_sign_in_as() -> None:
    cloud = LocalCloud(host_port=free_port())  # not started: the printout needs only its URLs
    printed = console_demo(cloud)
    assert f"{cloud.host_url}/api/console " in printed
    for user in identity.USERS.values():  # each as the stand-in's page labels them, with their roles
        assert f"  {user.name} " in printed and (", ".join(user.roles) or "no role") in printed
    assert cloud.app_settings()["INTERCONNECT_CONSOLE_CLIENT_ID"] == identity.CONSOLE_CLIENT_ID
