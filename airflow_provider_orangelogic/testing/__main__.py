"""Run the Orange Logic stand-in as a process: ``python -m airflow_provider_orangelogic.testing``.

It prints one line, ``Orange Logic stand-in listening on http://127.0.0.1:PORT``, then serves
until SIGTERM/SIGINT or until ``--max-runtime`` seconds have passed, so that a forgotten
stand-in never outlives the test run that started it. Other processes drive it through the
``/_standin/...`` control endpoints. Only the client id is ever printed, never a secret.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from airflow_provider_orangelogic.testing.stand_in import (
    CONTROL_PREFIX,
    FAULT_ENDPOINTS,
    OrangeLogicStandIn,
    StandInConfig,
    describe_faults,
)


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {text}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {text}")
    return value


def fault_help() -> str:
    """The fault kinds, from the stand-in's registry: what ``POST /_standin/faults`` accepts."""
    endpoints = " | ".join(f'"{name}"' for name in FAULT_ENDPOINTS)
    return (
        f"Faults: POST {CONTROL_PREFIX}faults with a JSON object\n"
        f'  {{"endpoint": {endpoints}, "kind": KIND, "count": N (default 1), OPTION: VALUE, ...}}\n'
        "makes the next N matching requests misbehave (oldest fault first); DELETE clears them.\n"
        f"Kinds, with their options and defaults:\n\n{describe_faults()}"
    )


def build_parser() -> argparse.ArgumentParser:
    defaults = StandInConfig()
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_orangelogic.testing",
        description="Local stand-in for the Orange Logic OAuth and Search endpoints (127.0.0.1 only).",
        epilog=fault_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: any free port)")
    parser.add_argument("--client-id", default=defaults.client_id)
    parser.add_argument("--client-secret", default=defaults.client_secret)
    parser.add_argument(
        "--redirect-uri",
        action="append",
        dest="redirect_uris",
        metavar="URI",
        help=f"registered redirect URI, repeatable (default: {defaults.redirect_uris[0]})",
    )
    parser.add_argument("--access-lifetime", type=_non_negative_float, default=defaults.access_lifetime)
    parser.add_argument("--refresh-lifetime", type=_non_negative_float, default=defaults.refresh_lifetime)
    parser.add_argument("--code-lifetime", type=_non_negative_float, default=defaults.code_lifetime)
    parser.add_argument(
        "--lenient",
        action="store_true",
        help="refresh tokens stay valid after use and reuse revokes nothing",
    )
    parser.add_argument("--catalogue-size", type=int, default=defaults.catalogue_size)
    parser.add_argument("--no-expires-in", action="store_true", help="omit expires_in from token answers")
    parser.add_argument("--no-global-info", action="store_true", help="omit GlobalInfo from search answers")
    parser.add_argument(
        "--search-latency",
        type=_non_negative_float,
        default=defaults.search_latency,
        metavar="SECONDS",
        help="how long each search request takes, like a network round trip (default: 0)",
    )
    parser.add_argument(
        "--search-max-in-flight",
        type=_non_negative_int,
        default=defaults.search_max_in_flight,
        metavar="N",
        help="search requests allowed in progress at once; one more is answered 429 (default: 0, no limit)",
    )
    parser.add_argument(
        "--search-retry-after",
        type=_non_negative_float,
        default=defaults.search_retry_after,
        metavar="SECONDS",
        help=f"the Retry-After of those 429 answers (default: {defaults.search_retry_after:g})",
    )
    parser.add_argument("--port-file", type=Path, help="write the bound port to this file (atomically)")
    parser.add_argument(
        "--max-runtime",
        type=_positive_float,
        default=3600.0,
        help="stop by itself after this many seconds (default: 3600)",
    )
    return parser


def config_from_args(args: argparse.Namespace) -> StandInConfig:
    changes: dict[str, Any] = {
        "client_id": args.client_id,
        "client_secret": args.client_secret,
        "access_lifetime": args.access_lifetime,
        "refresh_lifetime": args.refresh_lifetime,
        "code_lifetime": args.code_lifetime,
        "strict": not args.lenient,
        "catalogue_size": args.catalogue_size,
        "send_expires_in": not args.no_expires_in,
        "global_info": not args.no_global_info,
        "search_latency": args.search_latency,
        "search_max_in_flight": args.search_max_in_flight,
        "search_retry_after": args.search_retry_after,
    }
    if args.redirect_uris:
        changes["redirect_uris"] = tuple(args.redirect_uris)
    return StandInConfig(**changes)


def write_port_file(path: Path, port: int) -> None:
    """Write ``port`` so that a reader polling the file never sees it half written."""
    path = path.resolve()
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(f"{port}\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        standin = OrangeLogicStandIn(config_from_args(args), port=args.port)
    except ValueError as exc:
        parser.error(str(exc))

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())

    standin.start()
    try:
        if args.port_file is not None:
            write_port_file(args.port_file, standin.port)
        print(f"Orange Logic stand-in listening on {standin.url}", flush=True)
    except BaseException:
        standin.stop()
        raise
    by_signal = standin.serve_forever_for(args.max_runtime, stop_event=stop)
    reason = "signal received" if by_signal else "maximum runtime reached"
    print(f"Orange Logic stand-in stopped ({reason})", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
