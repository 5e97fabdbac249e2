"""`python -m localdev.servicebus`: run the Service Bus stand-in until SIGTERM or SIGINT.

The admin API is listening before the AMQP port opens, so a caller that waits for the AMQP port (as
`localdev.procs.Service` does) can use both at once.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path

from .admin import AdminServer
from .broker import Broker
from .config import ConfigError, load_config
from .namespace import Namespace

log = logging.getLogger("localdev.servicebus")


def _quiet_hang_ups(record: logging.LogRecord) -> bool:
    """proton logs an ERROR whenever a peer hangs up before reading our last frames. Readiness probes and SDK
    clients closing their connections do that all the time, so it is not an error here."""
    message = record.getMessage()
    return not (message.startswith("Couldn't send:") and ("BrokenPipe" in message or "ConnectionReset" in message))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localdev.servicebus", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="AMQP port (plain AMQP, no TLS)")
    parser.add_argument("--admin-port", type=int, required=True, help="HTTP admin API port")
    parser.add_argument("--config", type=Path, required=True, help='queue configuration, {"queues": [...]}')
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument("--log-file", type=Path, help="append the log, and any crash output, to this file")
    args = parser.parse_args(argv)
    if args.log_file is not None:
        # Redirect the process's own stdout/stderr, so that even a traceback before logging is set up lands there.
        fd = os.open(args.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
    logging.basicConfig(
        level=args.log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    proton_log = logging.getLogger("proton")
    # proton logs every reactor event at DEBUG, which drowns the broker's own messages.
    proton_log.setLevel(max(logging.INFO, logging.getLevelName(args.log_level)))
    proton_log.addFilter(_quiet_hang_ups)
    try:
        queues = load_config(args.config)
    except ConfigError as error:
        log.error("invalid configuration: %s", error)
        return 2
    broker = Broker(Namespace(queues))
    try:
        admin = AdminServer(broker, args.host, args.admin_port).start()
    except OSError as error:
        log.error("cannot listen on admin port %d: %s", args.admin_port, error)
        return 1
    # The handlers only write to a pipe: the reactor does the actual shutdown on its own thread.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: broker.waker.request_shutdown())
    try:
        broker.run(args.host, args.port)
    except OSError as error:
        log.error("cannot listen on port %d: %s", args.port, error)
        return 1
    finally:
        admin.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
