"""A scripted stand-in for the app's REST API behind an httpx.MockTransport, for the CLI's unit tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

SUB = "11111111-1111-1111-1111-111111111111"
RID = "0b6f5c1e-8d0a-4d8e-9a43-2f1f0c7d9e21"


def cid(name: str, rg: str = "rg-avs") -> str:
    return f"/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.AVS/privateClouds/{name}"


def event(sequence: int, status: str, at: str, message: str = "", actor: str = "worker") -> dict[str, Any]:
    return {"sequence": sequence, "status": status, "at": at, "actor": actor, "message": message, "reasons": []}


def view(status: str, events: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "requestId": RID,
        "action": "connect",
        "status": status,
        "source": cid("pc-a"),
        "target": cid("pc-b"),
        "reference": None,
        "requestedBy": {"channel": "api", "id": "key", "display": None},
        "createdAt": "2026-01-01T00:00:00+00:00",
        "updatedAt": "2026-01-01T00:00:00+00:00",
        "outcome": extra.pop("outcome", None),
        "reasons": extra.pop("reasons", []),
        "events": events,
        **extra,
    }


Handler = Callable[[httpx.Request], httpx.Response]


@dataclass
class FakeApi:
    """Answers by (method, path); a list answers in turn (the last one again once used up). Records requests."""

    routes: dict[tuple[str, str], Any] = field(default_factory=dict)
    seen: list[httpx.Request] = field(default_factory=list)

    def on(self, method: str, path: str, *answers: httpx.Response | Handler) -> None:
        self.routes[(method, path)] = list(answers)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        answers = self.routes.get((request.method, request.url.path))
        if not answers:
            return httpx.Response(404, json={"error": {"code": "NO_ROUTE", "message": request.url.path}})
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        return answer(request) if callable(answer) else answer

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)


def ok(body: Any, status: int = 200) -> httpx.Response:
    return httpx.Response(status, content=json.dumps(body).encode(), headers={"content-type": "application/json"})


def error(status: int, code: str, message: str, **details: Any) -> httpx.Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return ok({"error": body}, status)
