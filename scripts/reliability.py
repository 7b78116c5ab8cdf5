"""Run the fault suite in its full mode and print the reliability table (Markdown) for docs/RELIABILITY.md.

    python scripts/reliability.py                 # full mode: 200 kills ... (about 15 minutes on 2 cores)
    python scripts/reliability.py --ci            # the CI sizes (about 2 minutes)
    python scripts/reliability.py --seed 7 -k kill   # another seed; only the kill tests

Each fault test appends one row to a report file (`STLAR_FAULTS_REPORT`) when it passes (tests/faults.py,
`Row`); a failed test gets a FAILED row naming it. The reader fuzz (tests/test_logreader_fuzz.py) runs with
`STLAR_FUZZ_EXAMPLES` examples and gets its row here. Exit status: pytest's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FAULT_TESTS = sorted(str(p.relative_to(REPO)) for p in (REPO / "tests").glob("test_fault_*.py"))
FUZZ_TEST = "tests/test_logreader_fuzz.py"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ci", action="store_true", help="the CI sizes instead of the full mode")
    parser.add_argument("--seed", type=int, default=6, help="STLAR_FAULTS_SEED (default 6)")
    parser.add_argument("--fuzz-examples", type=int, default=None,
                        help="examples for the reader fuzz (default 5000 in full mode, 150 with --ci)")
    parser.add_argument("-k", default=None, help="pytest -k expression, to run a part of the suite")
    args = parser.parse_args()
    fuzz = args.fuzz_examples or (150 if args.ci else 5000)

    with tempfile.TemporaryDirectory(prefix="stlar-dl-reliability-") as tmp:
        report, junit = Path(tmp) / "rows.jsonl", Path(tmp) / "junit.xml"
        env = {**os.environ, "STLAR_FAULTS_REPORT": str(report), "STLAR_FAULTS_SEED": str(args.seed),
               "STLAR_FUZZ_EXAMPLES": str(fuzz), "STLAR_FAULTS_FULL": "0" if args.ci else "1"}
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}",
               *FAULT_TESTS, FUZZ_TEST] + (["-k", args.k] if args.k else [])
        print("$", " ".join(cmd[1:]), file=sys.stderr, flush=True)
        started = time.monotonic()
        code = subprocess.call(cmd, cwd=REPO, env=env)
        minutes = (time.monotonic() - started) / 60
        rows = [json.loads(line) for line in report.read_text().splitlines()] if report.exists() else []
        outcomes = _outcomes(junit)
    fuzz_cases = [name for name in outcomes if name.startswith("test_logreader_fuzz.")]
    if fuzz_cases:
        passed = all(outcomes[name] == "passed" for name in fuzz_cases)
        rows.append({"fault": "Reader fuzz", "how": "hypothesis: valid records in random byte chunks with garbage "
                     "lines, torn writes, records with any seq (duplicates, jumps, steps back), truncations, "
                     "replacements and copies of the same run mixed in (tests/test_logreader_fuzz.py)",
                     "times": fuzz, "result": f"{fuzz} streams: the reader yielded exactly the valid complete "
                     "records of the current run, in order, once, and never raised" if passed else
                     "FAILED: see the pytest output", "command": f"STLAR_FUZZ_EXAMPLES={fuzz} pytest {FUZZ_TEST}"})
    failed = sorted(name for name, outcome in outcomes.items() if outcome == "failed")
    for name in failed:
        rows.append({"fault": f"FAILED {name}", "how": "", "times": 0, "result": "see the pytest output"})
    mode = "CI" if args.ci else "full"
    print()
    print(f"Mode: {mode}, seed {args.seed}, {sum(v == 'passed' for v in outcomes.values())} tests passed, "
          f"{len(failed)} failed, {sum(v == 'skipped' for v in outcomes.values())} skipped, {minutes:.1f} min.")
    print()
    print("| fault | injected how | times | result |")
    print("|---|---|---:|---|")
    for row in rows:
        print(f"| {_cell(row['fault'])} | {_cell(row['how'])} | {row['times']} | {_cell(row['result'])} |")
    skipped = sorted(name for name, outcome in outcomes.items() if outcome == "skipped")
    if skipped:
        print()
        print("Skipped: " + ", ".join(skipped))
    return code


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _outcomes(junit: Path) -> dict[str, str]:
    """test name -> passed / failed / skipped, from pytest's JUnit XML."""
    if not junit.exists():
        return {}
    out = {}
    for case in ET.parse(junit).iter("testcase"):
        name = f"{case.get('classname', '').split('.')[-1]}.{case.get('name')}"
        if case.find("failure") is not None or case.find("error") is not None:
            out[name] = "failed"
        elif case.find("skipped") is not None:
            out[name] = "skipped"
        else:
            out[name] = "passed"
    return out


if __name__ == "__main__":
    sys.exit(main())
