"""Waiting for a Ray head to take jobs. `ray start --head` returns before its dashboard serves the
Jobs API, and the API answers before the head's job agent has registered (a submit then fails
with "try again later" or a dropped connection). A head is ready when a job submitted to it runs:
so submit a no-op job until one succeeds, then submit the real ones."""

from __future__ import annotations

import time

from ray.job_submission import JobStatus, JobSubmissionClient


def wait_until_jobs_run(address: str, timeout_s: float = 180) -> str:
    """The submission id of a no-op job that ran on the head at `address`."""
    deadline, last = time.time() + timeout_s, None
    while time.time() < deadline:
        try:
            client = JobSubmissionClient(address)
            job = client.submit_job(entrypoint="python -c pass")
            while (status := client.get_job_status(job)) not in (
                JobStatus.SUCCEEDED,
                JobStatus.FAILED,
                JobStatus.STOPPED,
            ):
                time.sleep(0.5)
            if status == JobStatus.SUCCEEDED:
                return job
            last = f"the probe job ended {status}: {client.get_job_logs(job)[-500:]}"
        except Exception as exc:  # the head is still starting: its API or its job agent is not up
            last = repr(exc)
        time.sleep(1)
    raise TimeoutError(f"the Ray head at {address} ran no job within {timeout_s:.0f} s: {last}")
