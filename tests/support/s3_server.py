"""A moto S3 server in its own process. In-process (ThreadedMotoServer) it would import Flask into
the test process, where its request-context proxies outlive the server and break later tests."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

from tests.support.local_cluster import free_port


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # it answered, with a status
    except OSError:
        return False


@contextmanager
def moto_s3_server(start_timeout_s: float = 120) -> Iterator[int]:
    """Yields the port of a running moto server; a port taken between choosing and binding it
    makes the server exit, and another port is tried."""
    last_error = ""
    for _ in range(3):
        port = free_port()
        # its log goes to a file: a pipe nobody reads fills up with request lines and stalls the server
        with tempfile.TemporaryFile(mode="w+") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
            )
            deadline = time.monotonic() + start_timeout_s
            while proc.poll() is None and not _answers(port):
                if time.monotonic() > deadline:
                    proc.kill()
                    raise TimeoutError(f"moto server on port {port} did not answer in {start_timeout_s} s")
                time.sleep(0.2)
            if proc.poll() is None:
                try:
                    yield port
                finally:
                    proc.terminate()
                    proc.wait(timeout=30)
                return
            log.seek(0)
            last_error = log.read()
    raise RuntimeError(f"moto server would not start: {last_error[-2000:]}")
