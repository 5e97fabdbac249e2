"""Exit codes a pipeline can branch on. Codes never change once shipped (the README lists them)."""

from __future__ import annotations

from enum import IntEnum


class Exit(IntEnum):
    OK = 0  # succeeded, plan allowed, or the read/decision was done
    USAGE = 2  # bad usage: unknown option, missing argument, bad value, incomplete configuration (click's code)
    REJECTED = 3  # the request was rejected, or the plan refused it
    FAILED = 4  # the request failed (Azure refused, or the link ended Failed / timed out)
    EXPIRED = 5  # nobody approved in time
    TIMED_OUT = 6  # --timeout passed before the request (or audit run) finished; it goes on in the app
    AUTH = 7  # 401/403: no or wrong function key, no/invalid/unauthorised token, or no token could be had
    API = 8  # the API answered another error (its code and message are shown)
    UNREACHABLE = 9  # the app (or the identity provider) could not be reached: network, DNS, TLS, timeout
    # `plan -f --detailed-exitcode`: allowed, with changes to apply. Terraform answers 2 for this, but 2 is
    # click's usage error here, and a pipeline must never mistake a typo for "changes to review".
    CHANGES = 10
    INTERRUPTED = 130  # Ctrl-C while waiting (the shells' 128 + SIGINT); the request goes on in the app


TERMINAL = {"Succeeded": Exit.OK, "Rejected": Exit.REJECTED, "Failed": Exit.FAILED, "Expired": Exit.EXPIRED}

HELP = """\b
Exit codes:
  0  succeeded, plan allowed, or done
  2  bad usage or configuration
  3  rejected, or plan refused
  4  failed
  5  expired: nobody approved in time
  6  timed out waiting (the request goes on in the app)
  7  authentication failed or not allowed (401/403, or no token could be had)
  8  the API answered another error (its code and message are shown)
  9  the app or the identity provider could not be reached
  10  plan -f --detailed-exitcode: allowed, with changes to apply (0: nothing to change)
  130  interrupted (Ctrl-C) while waiting; the request goes on"""


def for_status(status: str) -> Exit:
    """A terminal request status as an exit code; a status that is not terminal means the wait timed out."""
    return TERMINAL.get(status, Exit.TIMED_OUT)


def for_http_status(status: int) -> Exit:
    return Exit.AUTH if status in (401, 403) else Exit.API
