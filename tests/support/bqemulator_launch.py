"""Starts bqemulator (PyPI, Apache-2.0) on loopback for the BigQuery tests, offline.

Run by `tests/support/bigquery.rs` with the Python of the virtual environment it installs
bqemulator into. Three differences from `bqemulator start`:

* DuckDB's spatial extension is not loaded. bqemulator's start-up check
  (`bqemulator.storage.engine.DuckDBEngine._load_spatial`) downloads it, which fails without a
  network; nothing in vertex-batch uses GEOGRAPHY, so the check is replaced by a no-op.
* Both ports are chosen by the system (port 0), and the banner on stdout says which, in the
  shape the Rust test support reads (`tests/support/process.rs`):

      bqemulator listening on http://127.0.0.1:PORT
      BIGQUERY_EMULATOR_HOST=127.0.0.1:PORT
      grpc: 127.0.0.1:PORT
      press Ctrl-C to stop

* It stops when its standard input closes, as well as on SIGINT and SIGTERM: a test process that
  dies without killing it (a panic in a drop, SIGKILL) still leaves no emulator running.
"""

import asyncio
import os
import shutil
import signal
import tempfile
import sys
import threading

from bqemulator.config import LogLevel, PersistenceMode, Settings
from bqemulator.server import EmulatorServer
from bqemulator.storage.engine import DuckDBEngine


def _skip_spatial(_engine: DuckDBEngine) -> None:
    """No GEOGRAPHY: nothing to load, and nothing to download."""


DuckDBEngine._load_spatial = _skip_spatial


async def main() -> None:
    # DuckDB spills to `.tmp` in the working directory (29 GB for a million-row table once):
    # work in a private folder of our own, removed at the end, never in the user's checkout.
    scratch = tempfile.mkdtemp(prefix="bqemulator-")
    os.chdir(scratch)
    settings = Settings(
        persistence_mode=PersistenceMode.EPHEMERAL,
        rest_host="127.0.0.1",
        rest_port=0,
        grpc_host="127.0.0.1",
        grpc_port=0,
        log_level=LogLevel.WARNING,
    )
    server = EmulatorServer(settings)
    await server.start()
    rest = f"127.0.0.1:{server.rest_port}"
    print(f"bqemulator listening on http://{rest}", flush=True)
    print(f"BIGQUERY_EMULATOR_HOST={rest}", flush=True)
    print(f"grpc: {server.grpc_endpoint}", flush=True)
    print("press Ctrl-C to stop", flush=True)

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    def wait_for_stdin_to_close() -> None:
        sys.stdin.buffer.read()
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=wait_for_stdin_to_close, daemon=True).start()
    try:
        await stop.wait()
    finally:
        # A stop that hangs (a DuckDB statement wedged under load was seen to hold it for
        # minutes) must not keep the process alive: it is given a few seconds, then the
        # process ends regardless, so no emulator outlives its test process.
        try:
            await asyncio.wait_for(server.stop(), timeout=5)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
            os._exit(0)


if __name__ == "__main__":
    asyncio.run(main())
