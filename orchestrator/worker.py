"""Entry point of every worker process the service starts: the one logging setup, then the worker's loop.

    python -m orchestrator.worker --log-level INFO media.live.workers --config '{...}'
    WorkerPool(config, launcher=worker.launcher("media.live.workers", settings.log_level))

Every aulacast process logs one JSON object per line on stderr (docs/operator.md), set up in
one place, ``orchestrator.logs.setup_logging``. ``media`` and ``signaling`` may not import the
orchestrator (docs/ARCHITECTURE.md), so a worker they define does not set up logging itself:
the orchestrator starts it through this module, which sets logging up and then calls the
worker module's ``main(argv)``. Job workers to come are added to ``WORKERS`` the same way.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence

from orchestrator.logs import LEVELS, setup_logging

WORKERS = ("media.live.workers",)  # modules whose main(argv) runs a worker process


def launcher(worker: str, log_level: str) -> list[str]:
    """The arguments after the Python executable that start ``worker`` with the service's logging."""
    if worker not in WORKERS:
        raise ValueError(f"unknown worker {worker!r}; one of {', '.join(WORKERS)}")
    return ["-m", "orchestrator.worker", "--log-level", log_level, worker]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="start an aulacast worker process with the service's logging")
    parser.add_argument("--log-level", default="INFO", choices=LEVELS)
    parser.add_argument("worker", choices=WORKERS)
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the worker's own arguments")
    args = parser.parse_args(argv)
    setup_logging(args.log_level)
    module = importlib.import_module(args.worker)
    if args.worker == "media.live.workers":
        # the recorder is the media server's egress sink; media.live may not import it, so it is given here
        from media.recording.recorder import open_sink

        module.main(args.args, egress=open_sink)
    else:
        module.main(args.args)


if __name__ == "__main__":
    main()
