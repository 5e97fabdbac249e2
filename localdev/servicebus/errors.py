"""Service Bus error conditions the stand-in raises, with the AMQP condition and management status of each.

The SDK maps the condition symbol to its exception class (`MessageLockLostError`, `SessionCannotBeLockedError`,
...), so the symbols must be exactly the ones Service Bus sends. The status codes are what the service puts in
`statusCode` of a failed `$management` reply.
"""

from __future__ import annotations


class BrokerError(Exception):
    """An operation the broker refuses; `condition` goes on the wire as the AMQP error condition."""

    condition = "amqp:internal-error"
    status_code = 500

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class EntityNotFound(BrokerError):
    condition = "amqp:not-found"
    status_code = 404


class NotAllowed(BrokerError):
    condition = "amqp:not-allowed"
    status_code = 400


class NotImplementedOperation(BrokerError):
    condition = "amqp:not-implemented"
    status_code = 501


class ArgumentError(BrokerError):
    condition = "com.microsoft:argument-error"
    status_code = 400


class MessageSizeExceeded(BrokerError):
    condition = "amqp:link:message-size-exceeded"
    status_code = 413


class MessageLockLost(BrokerError):
    condition = "com.microsoft:message-lock-lost"
    status_code = 410


class SessionLockLost(BrokerError):
    condition = "com.microsoft:session-lock-lost"
    status_code = 410


class SessionCannotBeLocked(BrokerError):
    condition = "com.microsoft:session-cannot-be-locked"
    status_code = 409


class MessageNotFound(BrokerError):
    condition = "com.microsoft:message-not-found"
    status_code = 404


class OperationTimeout(BrokerError):
    condition = "com.microsoft:timeout"
    status_code = 408
