"""Synthesis benchmarks, one line each, every ratio against a baseline measured in the same run:

synth: backend=vllm rows=N ray_tok_s=X bare_vllm_tok_s=Y ratio=X/Y        (Ray Data vs a bare vllm.LLM)
synth: backend=openai rows=N rpm_budget=R achieved_rpm=A ratio=A/R        (the global budget, local server)
synth: backend=cortex rows=N statements=S rows_s=X                         (set-based SQL, local fakesnow)

  python benchmarks/synth.py                   # all three
  python benchmarks/synth.py --only openai     # one of them
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the local test servers

BACKENDS = ("vllm", "openai", "cortex")


def main(argv=None) -> list[str]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", choices=BACKENDS, action="append", help="run only these (repeatable)")
    args = p.parse_args(argv)
    lines = []
    for backend in args.only or BACKENDS:
        module = __import__(f"synth_{backend}")
        lines.append(module.run())
        print(lines[-1], flush=True)
    return lines


if __name__ == "__main__":
    main()
