"""`redun_fast log --file PATH`: the job that wrote a file, its call, what it read, its run."""
import json
import os
import subprocess
import sys
import textwrap

from test_cli_cache import redun_fast

WORKFLOW = """
import os, sys
from redun_fast import Dir, File, Scheduler, task
redun_namespace = "prov"

@task
def align(reads: File, ref: File, out: str) -> File:
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as bam:
        bam.write(open(reads.path).read() + open(ref.path).read())
    return File(out)

@task
def bundle(folder: str, n: int) -> Dir:
    os.makedirs(folder, exist_ok=True)
    for i in range(n):
        open(os.path.join(folder, f"part{i}.txt"), "w").write(str(i))
    return Dir(folder)

@task
def count(x: int) -> int:
    return x + 1

@task
def main(samples):
    return {"bams": [align(File(f"{s}.fq"), File("ref.fa"), f"out/{s}.bam") for s in samples],
            "bundle": bundle("bundle", 2), "n": count(len(samples))}

scheduler = Scheduler(cache_dir=sys.argv[1], executor=sys.argv[2])
print(scheduler.run(main(["a", "b"]), cache=sys.argv[3:] != ["again"]))
"""


def run(folder, *args):
    out = subprocess.run([sys.executable, "wf.py", str(folder / "cache"), *args], cwd=folder,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr


def log_file(folder, *args):
    return subprocess.run([sys.executable, "-m", "redun_fast", "log", "--cache-dir",
                           str(folder / "cache"), "--file", *args], cwd=folder,
                          capture_output=True, text=True, timeout=60)


def test_log_file_names_the_job_that_wrote_a_file_its_call_and_what_it_read(tmp_path):
    (tmp_path / "wf.py").write_text(textwrap.dedent(WORKFLOW))
    for name in ("a.fq", "b.fq", "ref.fa"):
        (tmp_path / name).write_text(name)
    run(tmp_path, "processes")
    run(tmp_path, "processes")  # cached: the file's writer is still the first run's job
    first = redun_fast("log", cache=tmp_path / "cache").stdout.splitlines()[2].split()[0]
    out = log_file(tmp_path, "out/b.bam")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == str(tmp_path / "out" / "b.bam")
    assert lines[1].startswith("  written by job ") and "prov.align(reads=File(" in lines[1]
    assert "b.fq" in lines[1] and "out='out/b.bam'" in lines[1]
    assert lines[2].startswith(f"  in execution {first}")
    assert lines[3] == f"  it read   {tmp_path / 'b.fq'}"
    assert lines[4] == f"            {tmp_path / 'ref.fa'}"
    assert len(lines) == 5  # no earlier writer
    # A file inside a returned Dir; by absolute path too.
    held = log_file(tmp_path, str(tmp_path / "bundle" / "part1.txt"))
    assert held.stdout.startswith(f"{tmp_path / 'bundle'} (holds ")
    assert "prov.bundle(folder='bundle', n=2)" in held.stdout and "no files" in held.stdout
    missing = log_file(tmp_path, "out/c.bam")
    assert missing.returncode == 2 and "no job recorded in" in missing.stderr


def test_log_file_after_a_rerun_that_wrote_it_again_names_the_newest(tmp_path):
    (tmp_path / "wf.py").write_text(textwrap.dedent(WORKFLOW))
    for name in ("a.fq", "b.fq", "ref.fa"):
        (tmp_path / name).write_text(name)
    run(tmp_path, "threads")
    run(tmp_path, "threads", "again")  # cache=False: every job runs again
    newest = redun_fast("log", cache=tmp_path / "cache").stdout.splitlines()[1].split()[0]
    found = json.loads(log_file(tmp_path, "out/a.bam", "--json").stdout)
    assert found["execution"]["id"].startswith(newest) and found["earlier"] == 1
    assert found["read"] == [os.path.join(str(tmp_path), "a.fq"),
                             os.path.join(str(tmp_path), "ref.fa")]
    assert found["job"]["task_name"] == "prov.align" and found["job"]["status"] == "DONE"
