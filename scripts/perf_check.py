#!/usr/bin/env python3
"""Regression check on compile cost, in instructions rather than seconds.

Wall time is noisy on shared 2-core machines; instruction counts from
`valgrind --tool=callgrind` are repeatable for the same binary and input. This script
generates the 1,000-model benchmark project (../shared/bench/gen_project.py), runs
`sluice compile` on it once under callgrind with one rayon thread, and compares the
instruction count with the baseline in scripts/perf_baseline.json:

    python3 scripts/perf_check.py SLUICE_BINARY            # check (exit 1 if > tolerance)
    python3 scripts/perf_check.py SLUICE_BINARY --update   # record a new baseline

A change that makes compile more than `tolerance` times as expensive (1.5 by default,
so a 2x regression always fails) fails the check; a big improvement prints a reminder
to lower the baseline.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
BASELINE = os.path.join(HERE, "perf_baseline.json")
MODELS = 1000


def shared_dir():
    return os.environ.get("SLUICE_SHARED", os.path.join(REPO, "..", "shared"))


def instructions(binary, project):
    env = dict(os.environ, RAYON_NUM_THREADS="1", NO_COLOR="1")
    cmd = [
        "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
        binary, "compile", "--project-dir", project, "--threads", "1",
    ]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.stderr.write(out.stdout + out.stderr)
        sys.exit(f"perf_check: sluice compile failed under valgrind (exit {out.returncode})")
    match = re.search(r"Collected\s*:\s*(\d+)", out.stderr)
    if not match:
        sys.stderr.write(out.stderr)
        sys.exit("perf_check: no instruction count in callgrind's output")
    return int(match.group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("binary")
    ap.add_argument("--update", action="store_true", help="record the count as the new baseline")
    args = ap.parse_args()
    gen = os.path.join(shared_dir(), "bench", "gen_project.py")
    with tempfile.TemporaryDirectory() as tmp:
        project = os.path.join(tmp, "bench")
        subprocess.run([sys.executable, gen, "--models", str(MODELS), "--out", project],
                       check=True, capture_output=True)
        count = instructions(os.path.abspath(args.binary), project)
    if args.update or not os.path.exists(BASELINE):
        with open(BASELINE, "w") as f:
            json.dump({"models": MODELS, "instructions": count, "tolerance": 1.5}, f, indent=2)
            f.write("\n")
        print(f"perf_check: baseline recorded: {count:,} instructions to compile {MODELS} models")
        return
    with open(BASELINE) as f:
        base = json.load(f)
    ratio = count / base["instructions"]
    print(f"perf_check: compile of {MODELS} models: {count:,} instructions, "
          f"{ratio:.2f}x the baseline {base['instructions']:,} (tolerance {base['tolerance']}x)")
    if ratio > base["tolerance"]:
        sys.exit("perf_check: FAIL: compile got more expensive than the tolerance allows")
    if ratio < 0.7:
        print("perf_check: much cheaper than the baseline: record it with --update")


if __name__ == "__main__":
    main()
