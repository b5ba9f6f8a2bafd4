"""``aliyun-emulator serve --seed FILE [--host 127.0.0.1] [--port 0] [--state FILE] [--accept-host-clock]``.

Prints exactly one line, ``aliyun-emulator listening on http://HOST:PORT``, once requests are accepted (scripts wait
for it to learn the port), then serves until SIGINT or SIGTERM and exits 0. A bad seed exits 2 with the reason.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

LISTENING_PREFIX = "aliyun-emulator listening on "


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="aliyun-emulator", description="A local Alibaba Cloud for the official SDKs.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve RAM, STS, Resource Manager, SLB, ALB, NLB, ECS on one port")
    serve.add_argument("--seed", required=True, help="seed file (JSON) declaring the accounts")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=0, help="port to bind (default 0: any free port)")
    serve.add_argument("--state", default=None, help="SQLite file that keeps the state across restarts")
    serve.add_argument(
        "--accept-host-clock",
        action="store_true",
        help="also accept request timestamps near the host's clock (default: the emulator clock only)",
    )
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return _serve(arguments.seed, arguments.host, arguments.port, arguments.state, arguments.accept_host_clock)


def _serve(seed_file: str, host: str, port: int, state_file: str | None, accept_host_clock: bool = False) -> int:
    from aliyun_emulator.emulator import Emulator
    from aliyun_emulator.seed import load_seed

    try:
        seed = load_seed(seed_file)
    except (OSError, ValueError) as error:
        print(f"aliyun-emulator: invalid seed {seed_file}: {error}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def request_stop(_signal: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        emulator = Emulator(
            seed, host=host, port=port, state_file=state_file, accept_host_clock=accept_host_clock
        ).start()
    except OSError as error:
        print(f"aliyun-emulator: cannot listen on {host}:{port}: {error}", file=sys.stderr)
        return 1
    try:
        print(f"{LISTENING_PREFIX}{emulator.url}", flush=True)
        while not stop.wait(1.0):
            pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
