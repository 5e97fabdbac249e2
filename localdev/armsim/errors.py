"""The two ways a request to the simulator can be refused.

`ArmError` is what a client of the simulated ARM sees: a status code and the ARM error body
(`{"error": {"code", "message"}}`) that azure-core parses into `HttpResponseError.error`.
`ConfigError` is a bad fleet, fault or admin document: it names the offending field so a typo in a
hand-written fleet fails the load instead of surfacing later as a puzzling simulator answer.
"""

from __future__ import annotations


class ArmError(Exception):
    """An ARM-shaped refusal: HTTP status plus error code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, object]:
        return {"error": {"code": self.code, "message": self.message}}


class ConfigError(ValueError):
    """A fleet, fault or admin document that does not validate."""
