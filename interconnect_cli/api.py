"""The app's REST API over httpx: one method per route, answers as the JSON the API documents (README "REST API").

Every error the API answers arrives as ApiError with its HTTP status and the app's `{"error": {"code",
"message", "details"}}`; an answer without that body (the Functions host's own 401 for a missing key, a proxy's
502) gets a code made from its status. Not reaching the app at all is Unreachable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from interconnect_cli.auth import Credentials

USER_AGENT = "interconnect-cli/0.1"
TIMEOUT = httpx.Timeout(30.0, connect=10.0)


@dataclass
class ApiError(Exception):
    status: int
    code: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class Unreachable(Exception):
    """The app could not be reached, or did not answer in time."""


@dataclass
class Api:
    base_url: str
    credentials: Credentials
    http: httpx.Client

    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """`body` goes as JSON; `content` (a document as it was written) goes as it is, with its own type."""
        url = f"{self.base_url}/api/{path}"
        try:
            response = self.http.request(
                method,
                url,
                params=params,
                json=body,
                content=content,
                headers={"User-Agent": USER_AGENT, **self.credentials.headers(), **(headers or {})},
            )
        except httpx.HTTPError as exc:
            # The message names the URL and what went wrong; httpx puts no header (so no key or token) in it.
            raise Unreachable(f"{method} {url}: {type(exc).__name__}: {exc}") from None
        if response.status_code >= 400:
            raise error_of(response)
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return body_of(self.call(method, path, **kwargs))

    # -- routes ---------------------------------------------------------------------------------------------

    def resolve_cloud(self, ref: str) -> str:
        """A full ARM id as given (the API validates it where it is used); a short name through GET /api/clouds."""
        if ref.startswith("/"):
            return ref
        answer = self.json("GET", "clouds", params={"ref": ref})
        return str(answer["cloud"])

    def plan(self, action: str, source: str, target: str) -> dict[str, Any]:
        body = {"action": action, "source": source, "target": target}
        plan: dict[str, Any] = self.json("POST", "requests", params={"dryRun": "true"}, body=body)
        return plan

    def submit(
        self, action: str, source: str, target: str, *, reference: str | None, idempotency_key: str | None
    ) -> tuple[dict[str, Any], bool]:
        """The answer and whether the request is new (202), not one the idempotency key already made (200)."""
        body = {"action": action, "source": source, "target": target}
        if reference:
            body["reference"] = reference
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        response = self.call("POST", "requests", body=body, headers=headers)
        accepted: dict[str, Any] = body_of(response)
        return accepted, response.status_code == 202

    def request(self, request_id: str) -> dict[str, Any]:
        view: dict[str, Any] = self.json("GET", f"requests/{request_id}")
        return view

    def requests(
        self, *, cloud: str | None, status: str | None, limit: int | None, continuation: str | None = None
    ) -> dict[str, Any]:
        params = {
            "cloud": cloud,
            "status": status,
            "limit": str(limit) if limit is not None else None,
            "continuation": continuation,
        }
        page: dict[str, Any] = self.json("GET", "requests", params={k: v for k, v in params.items() if v})
        return page

    def links(self, cloud: str) -> dict[str, Any]:
        links: dict[str, Any] = self.json("GET", "links", params={"cloud": cloud})
        return links

    def decide(self, request_id: str, *, approve: bool) -> dict[str, Any]:
        view: dict[str, Any] = self.json("POST", f"requests/{request_id}/{'approve' if approve else 'reject'}")
        return view

    def start_audit(self) -> dict[str, Any]:
        started: dict[str, Any] = self.json("POST", "audits")
        return started

    def audit(self, run_id: str) -> dict[str, Any]:
        run: dict[str, Any] = self.json("GET", f"audits/{run_id}")
        return run

    def plan_topology(self, document: bytes, content_type: str) -> dict[str, Any]:
        plan: dict[str, Any] = self.json(
            "POST", "topology/plan", content=document, headers={"Content-Type": content_type}
        )
        return plan

    def apply_topology(
        self, document: bytes, content_type: str, fingerprint: str, *, idempotency_key: str | None
    ) -> tuple[dict[str, Any], int]:
        """The answer and its status: 202 a change set started, 200 nothing to change (or the idempotency key's
        earlier answer)."""
        headers = {"Content-Type": content_type}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        response = self.call(
            "POST", "topology/apply", params={"fingerprint": fingerprint}, content=document, headers=headers
        )
        answer: dict[str, Any] = body_of(response)
        return answer, response.status_code

    def changeset(self, changeset_id: str) -> dict[str, Any]:
        view: dict[str, Any] = self.json("GET", f"changesets/{changeset_id}")
        return view

    def topology(self, fmt: str) -> tuple[bytes, str]:
        response = self.call("GET", "topology", params={"format": fmt})
        return response.content, response.headers.get("content-type", "")


def body_of(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise ApiError(
            response.status_code, "NOT_JSON", f"{response.url.path} answered {response.status_code} but not JSON"
        ) from None


def error_of(response: httpx.Response) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("code"), str):
        details = error.get("details")
        return ApiError(
            response.status_code,
            error["code"],
            str(error.get("message") or ""),
            details if isinstance(details, dict) else {},
        )
    status = response.status_code
    hint = {
        401: "the app wants a function key (--function-key) or a valid token",
        403: "the app refused these credentials",
        404: "no such route: is --url the app's base URL?",
    }.get(status, f"HTTP {status} {response.reason_phrase}".strip())
    return ApiError(status, f"HTTP_{status}", hint)
