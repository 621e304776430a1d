"""The README's first command: the fan-out example runs, and a second run is replayed from the cache."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_example(cwd, env=None):
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "fanout.py"), "30"],
        cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True, check=True,
        timeout=120,
    )
    lines = result.stdout.splitlines()
    all_row = next(line for line in lines if line.startswith("| ALL"))
    pending, running, failed, cached, done, total = map(int, all_row.split()[2:])
    return lines[0].rsplit(" in ", 1)[0], (failed, cached, done, total)


def test_fanout_example_caches_in_dot_redun_fast(tmp_path):
    env = {"REDUN_FAST_CACHE_DIR": ""}
    first, counts = run_example(tmp_path, env)
    assert first.startswith("{'samples': 30, 'mean_gc': ")
    assert counts == (0, 0, 62, 62)  # 30 simulate + 30 gc_content + main + summarize
    assert (tmp_path / ".redun_fast" / "data.mdb").exists()
    again, counts = run_example(tmp_path, env)
    assert again == first and counts == (0, 62, 0, 62)


def test_fanout_example_honours_the_cache_dir_variable(tmp_path):
    run_example(tmp_path, {"REDUN_FAST_CACHE_DIR": str(tmp_path / "elsewhere")})
    assert (tmp_path / "elsewhere" / "data.mdb").exists()
    assert not (tmp_path / ".redun_fast").exists()


def run_samples(cwd):
    """The Files-and-scripts example; the tasks whose jobs ran (not replayed), with counts."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "samples.py"), "3", "-v"], cwd=cwd,
        env={**os.environ, "REDUN_FAST_CACHE_DIR": ""}, capture_output=True, text=True,
        check=True, timeout=120)
    ran = {}
    for line in result.stderr.splitlines() + result.stdout.splitlines():
        if "] Run    Job " in line:
            name = line.split(":  ", 1)[1].split("(", 1)[0].split(".")[-1]
            ran[name] = ran.get(name, 0) + 1
    return result.stdout.split("| JOB STATUS")[0].splitlines()[0:4], ran


def test_samples_example_reruns_exactly_what_a_file_change_reaches(tmp_path):
    report, ran = run_samples(tmp_path)
    assert report[0] == "sample\treads\tgc" and len(report) == 4
    assert ran == {"main": 1, "base_counts": 3, "script": 3, "parse_stats": 3, "write_report": 1}
    assert run_samples(tmp_path) == (report, {})  # fully cached

    os.utime(tmp_path / "data" / "sample2.fastq")  # touched: that sample's steps run again
    assert run_samples(tmp_path) == (report, {"main": 1, "base_counts": 1, "script": 1})

    (tmp_path / "results" / "sample3.stats").unlink()  # only the job that wrote it runs
    assert run_samples(tmp_path) == (report, {"script": 1})
    (tmp_path / "results" / "report.tsv").unlink()
    assert run_samples(tmp_path) == (report, {"write_report": 1})
