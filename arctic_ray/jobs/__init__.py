"""Importing this package registers every job."""

from arctic_ray.jobs.spec_decode import run_spec_decode

__all__ = ["run_spec_decode"]
