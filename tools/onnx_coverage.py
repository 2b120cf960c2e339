"""How many of ONNX's operator test cases netdsl covers, per ONNX op (needs `pip install -e '.[test]'`).

    python tools/onnx_coverage.py            # the table of mapped ops and the summary line
    python tools/onnx_coverage.py -v         # and every case not covered, with the reason
    python tools/onnx_coverage.py --all      # unmapped ops too

The cases run as in tests/onnx_node/test_node_cases.py (which fails on a wrong result); see
tests/onnx_node/node_cases.py for what each state means.
"""

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0:0] = [str(ROOT), str(ROOT / "tests" / "onnx_node")]

import node_cases  # noqa: E402

COLUMNS = ("covered", "partial", "failed", "not expressible", "refused", "not registered")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="list every case not covered, with why")
    parser.add_argument("--all", action="store_true", help="list unmapped ONNX ops too")
    args = parser.parse_args(argv)
    from netdsl.onnx import TABLE

    outcomes = [node_cases.run_case(name) for name in node_cases.node_cases()]
    table = node_cases.summary(outcomes)
    print(f"{'ONNX op':<24}{'kind':<18}" + "".join(f"{c:>16}" for c in COLUMNS) + f"{'cases':>8}")
    for op, counts in sorted(table.items()):
        if op not in TABLE and not args.all:
            continue
        kind = TABLE[op].kind if op in TABLE else "-"
        print(f"{op:<24}{kind:<18}" + "".join(f"{counts[c] or '':>16}" for c in COLUMNS)
              + f"{sum(counts.values()):>8}")
    if args.verbose:
        for outcome in outcomes:
            if outcome.state not in ("covered", "unmapped"):
                reason = outcome.detail.splitlines()[0] if outcome.detail else ""
                print(f"{outcome.state:>16}  {outcome.case}: {reason}")
    print(node_cases.coverage_line(outcomes))
    return 1 if any(o.state == "failed" for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
