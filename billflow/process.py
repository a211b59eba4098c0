"""Leaving the process: shared by the worker and the CLI, and light enough for `billflow --help` to import."""

from __future__ import annotations

import logging
import os
import sys


def exit_now(code: int = 0) -> None:
    """Leave without interpreter teardown, once everything is shut down: temporalio's Rust threads can abort
    it ("PyGILState_Release ... finalizing", temporalio/sdk-python#300), turning a clean stop into exit 134."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
