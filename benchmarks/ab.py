"""A/B: the 10^6 fan-out (compare.py's redun_fast script), cold and cached, alternating between
two source trees in one session, so that a change is measured against its baseline on the same
noisy machine.

    git worktree add ../baseline HEAD~3 && (cd ../baseline && python setup.py build_ext --inplace)
    python benchmarks/ab.py ../baseline . --rounds 3           # fanout 10^6, processes
    python benchmarks/ab.py ../baseline . --n 100000 --executor inline

Each measurement is a fresh process with PYTHONPATH set to the tree; "cached" reruns on the
cache its cold run filled. Prints us/job per round and the median of each side.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile

from compare import REDUN_FAST


def run(tree: str, n: int, cache: str, executor: str, workload: str) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as script:
        script.write(REDUN_FAST)
    try:
        env = {**os.environ, "PYTHONPATH": os.path.abspath(tree)}
        out = subprocess.run([sys.executable, script.name, workload, str(n), cache, executor],
                             capture_output=True, text=True, env=env, timeout=1800, check=True)
    finally:
        os.unlink(script.name)
    return float(out.stdout.split()[0]) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("a", help="the baseline tree (built in place)")
    parser.add_argument("b", help="the changed tree (built in place)")
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--executor", default="processes")
    parser.add_argument("--workload", default="fanout", choices=["fanout", "add_many", "pipeline"])
    args = parser.parse_args()
    figures = {(side, state): [] for side in "ab" for state in ("cold", "cached")}
    print(f"{args.workload} {args.n:,} on {args.executor}, us/job; a = {args.a}, b = {args.b}")
    with tempfile.TemporaryDirectory() as tmp:
        for round_number in range(args.rounds):
            # Alternate which side goes first, so drift in the machine's load favours neither.
            sides = "ab" if round_number % 2 == 0 else "ba"
            for side in sides:
                tree = args.a if side == "a" else args.b
                cache = os.path.join(tmp, f"{side}{round_number}")
                for state in ("cold", "cached"):
                    figure = run(tree, args.n, cache, args.executor, args.workload)
                    figures[side, state].append(figure)
                    print(f"round {round_number + 1} {side} {state:6} {figure:8.2f}", flush=True)
    print(f"\n{'':8} {'a (median)':>12} {'b (median)':>12} {'b / a':>8}")
    for state in ("cold", "cached"):
        a, b = (statistics.median(figures[side, state]) for side in "ab")
        print(f"{state:8} {a:12.2f} {b:12.2f} {b / a:8.3f}")


if __name__ == "__main__":
    main()
