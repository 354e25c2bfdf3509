"""A table streamed into a run directory: a rerun into the same directory writes it anew, so no
row of the earlier run is read again (its parquet parts or JSONL lines)."""

import pyarrow.parquet as pq

from arctic_ray.core.storage import location
from arctic_ray.core.tables import TableWriter


def write(run, rows):
    table = TableWriter(run, "errors", part_rows=1)
    for row in rows:
        table.add(row)
    table.close()


def test_a_rerun_replaces_the_table_of_the_earlier_run(tmp_path):
    run = location(str(tmp_path))
    write(run, [{"id": i} for i in range(3)])
    assert len(list((tmp_path / "errors").iterdir())) == 3
    write(run, [{"id": 7}])
    assert pq.read_table(tmp_path / "errors").to_pylist() == [{"id": 7}]
    assert (tmp_path / "errors.jsonl").read_text().splitlines() == ['{"id": 7}']
    write(run, [])  # a rerun with no such rows: nothing of the earlier run's is left to read
    assert not (tmp_path / "errors.jsonl").exists() and not list((tmp_path / "errors").iterdir())
