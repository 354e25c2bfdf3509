"""`arctic-ray dedup` in-process on the session's Ray: a JSONL file without ids (numbered by
position) with planted near and exact duplicates, a directory of parquet files with ids and a
survivor score, and the one-line errors of a wrong field and of repeated ids."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import ray

from arctic_ray.cli import main
from tests.support.dedup_corpus import edited, jaccard, text


def read_dir(path) -> list[dict]:
    return pq.read_table(path).to_pylist()


def dedup(*argv) -> int:
    code = main(["dedup", *map(str, argv)])
    assert ray.is_initialized()  # the session's Ray, neither started again nor stopped
    return code


def test_jsonl_without_ids_exact_then_near(ray_local, tmp_path, capsys):
    a, b, c = text(200), text(201), text(202)
    near_a = edited(a, 80)
    assert jaccard(a, near_a) > 0.9
    texts = [
        a,
        near_a,  # 1: a near-duplicate of 0
        near_a.upper(),  # 2: an exact copy of 1 (case): points past 1 to the row kept, 0
        b,
        "  " + b.replace(" ", "   "),  # 4: an exact copy of 3 (space)
        c,
        edited(c, *range(3, 160, 6)),  # 6: 27 edits: too far from 5
    ]
    assert jaccard(c, texts[6]) < 0.5
    source = tmp_path / "rows.jsonl"
    source.write_text("".join(json.dumps({"text": t, "n": i}) + "\n" for i, t in enumerate(texts)))

    assert dedup(source, "--field", "text", "--threshold", "0.7", "--exact", "--output", tmp_path / "out") == 0

    out = capsys.readouterr().out
    assert "`id` is each row's position" in out
    assert "rows in 7, kept 4, near-duplicates 1, exact duplicates 2, giant clusters reported 0" in out
    kept = read_dir(tmp_path / "out/kept")
    dups = read_dir(tmp_path / "out/duplicates")
    assert sorted(r["id"] for r in kept) == ["0", "3", "5", "6"]
    assert {d["id"]: (d["duplicate_of"], d["cluster"], d["dedup"]) for d in dups} == {
        "1": ("0", "0", "near"),
        "2": ("0", "0", "exact"),
        "4": ("3", "3", "exact"),
    }
    for row in kept + dups:  # ids are positions in the file, columns come through
        assert row["text"] == texts[int(row["id"])] and row["n"] == int(row["id"])
    assert "duplicate_of" not in kept[0]
    summary = json.loads((tmp_path / "out/summary.json").read_text())
    assert (summary["rows"], summary["kept"], summary["ids_added"]) == (7, 4, True)


def test_parquet_directory_with_ids_and_a_survivor_score(ray_local, tmp_path, capsys):
    base, other = text(210), text(211)
    files = [
        [("r0", base, 0.2), ("x", other, 0.5)],
        [("r1", edited(base, 40), 0.9), ("r2", edited(base, 120), None)],
        [
            ("g0", text(212), 0.1),
            ("g1", text(212), 0.1),
            ("g2", edited(text(212), 7), 0.1),
            ("g3", edited(text(212), 99), 0.1),
        ],
    ]
    source = tmp_path / "table"
    source.mkdir()
    for i, rows in enumerate(files):
        ids, texts, scores = zip(*rows, strict=False)
        pq.write_table(
            pa.table({"id": ids, "completion": texts, "score": pa.array(scores, pa.float64())}),
            source / f"part-{i}.parquet",
        )

    code = dedup(source, "--survivor-score", "score", "--max-cluster-size", "3", "--output", tmp_path / "out")

    assert code == 0
    out = capsys.readouterr().out
    assert "rows in 8, kept 6, near-duplicates 2, exact duplicates 0, giant clusters reported 1" in out
    assert "giant cluster 'g0': 4 rows" in out  # reported, its rows kept
    assert "position" not in out  # the input's ids are used
    assert sorted(r["id"] for r in read_dir(tmp_path / "out/kept")) == ["g0", "g1", "g2", "g3", "r1", "x"]
    dups = read_dir(tmp_path / "out/duplicates")
    assert {d["id"]: (d["duplicate_of"], d["cluster"], d["dedup"], d["score"]) for d in dups} == {
        "r0": ("r1", "r1", "near", 0.2),
        "r2": ("r1", "r1", "near", None),
    }


def error_lines(capsys) -> list[str]:
    """The command's own error lines; no traceback. (Ray Data's INFO lines may share stderr: the
    session's logging decides, which depends on the tests that ran before.)"""
    err = capsys.readouterr().err
    assert "Traceback" not in err, err[-2000:]
    return [line for line in err.splitlines() if line.startswith("arctic-ray")]


def test_a_wrong_field_and_repeated_ids_are_one_line_errors(ray_local, tmp_path, capsys):
    source = tmp_path / "rows.jsonl"
    source.write_text("".join(json.dumps({"id": i % 2, "text": text(220 + i)}) + "\n" for i in range(3)))

    assert dedup(source, "--field", "completion", "--output", tmp_path / "out") == 2
    err = error_lines(capsys)
    assert len(err) == 1 and "'completion' is not a column" in err[0] and "text" in err[0]

    assert dedup(source, "--field", "text", "--output", tmp_path / "out") == 2
    err = error_lines(capsys)
    assert len(err) == 1 and "ids must be unique" in err[0] and "0 (2 rows)" in err[0]

    assert dedup(source, "--field", "text", "--threshold", "1.5", "--output", tmp_path / "out") == 2
    assert "--threshold" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
