"""`redun_fast report`: what the page says of a run, and that it stays small for big runs."""
import re
import subprocess
import sys
import textwrap

import pytest

from redun_fast.cache.records import ExecutionRecord, JobRecord
from redun_fast.report import BINS, DETAIL_JOBS, LANE, render
from test_cli_cache import redun_fast

WORKFLOW = """
import sys
from redun_fast import Scheduler, task
redun_namespace = "rep"

@task
def square(i):
    return i * i

@task
def check(i):
    if i == 3:
        raise ValueError(f"sample {i} is bad")
    return i

@task
def main(n):
    return [square(i) for i in range(n)]

scheduler = Scheduler(cache_dir=sys.argv[1], executor="processes")
scheduler.run(main(int(sys.argv[2])))
if sys.argv[3:] == ["fail"]:
    scheduler.run([check(i) for i in range(4)])
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Runs of main(20); main(30), 20 of its squares cached; main(30) again, all cached;
    then a run that fails."""
    folder = tmp_path_factory.mktemp("report")
    (folder / "wf.py").write_text(textwrap.dedent(WORKFLOW))
    cache = folder / "cache"
    for args in (["20"], ["30"], ["30", "fail"]):
        subprocess.run([sys.executable, str(folder / "wf.py"), str(cache), *args],
                       capture_output=True, timeout=120)
    ids = [line.split()[0] for line in redun_fast("log", cache=cache).stdout.splitlines()[1:]]
    return folder, cache, ids  # ids newest first


def test_report_shows_the_run_its_counts_tasks_and_timeline(runs):
    folder, cache, ids = runs
    out = redun_fast("report", ids[2], "-o", str(folder / "second.html"), cache=cache)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"wrote {folder / 'second.html'} (")
    page = (folder / "second.html").read_text()
    counts = dict(re.findall(r'<div class="tile" id="count-(\w+)"><b>([\d,]+)</b>', page))
    assert counts == {"jobs": "31", "ran": "11", "done": "11", "cached": "20", "failed": "0"}
    assert "TaskExpression(&#x27;rep.main&#x27;, (30,), {})" in page
    assert "[0, 1, 4, 9, 16, 25, 36, 49, ...]" in page  # the result, trimmed
    tasks = re.findall(r'<tr data-task="\d+"><td><i[^>]*></i>([\w.]+)</td>'
                       r'<td data-sort="(\d+)">[\d,]+</td><td data-sort="(\d+)">', page)
    assert sorted(tasks) == [("rep.main", "1", "0"), ("rep.square", "30", "20")]
    bars = re.findall(r'<rect [^>]*data-task="\d+"', page)
    assert len(bars) == 11  # one bar per job that ran, detailed below DETAIL_JOBS
    assert "cached, replayed (20)" in page
    assert "Failures" not in page and "Slurm: asked" not in page
    # Self-contained: nothing to fetch.
    assert not re.search(r"""(src|href)\s*=|@import|url\(""", page)


def test_report_of_a_failed_run_shows_its_errors_and_defaults_to_the_newest(runs):
    folder, cache, ids = runs
    out = subprocess.run([sys.executable, "-m", "redun_fast", "report", "--cache-dir",
                          str(cache)], cwd=folder, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("wrote report.html (")
    assert f"execution {ids[0][:8]}, failed" in out.stdout
    page = (folder / "report.html").read_text()
    assert '<span class="state failed">failed</span>' in page
    assert re.search(r"<summary><code>rep\.check</code> job [0-9a-f]{16}: "
                     r"ValueError: sample 3 is bad</summary>", page)
    assert "Traceback" in page.split('<div id="failures">')[1]
    missing = redun_fast("report", "zzzz", cache=cache)
    assert missing.returncode == 2 and "no execution matches 'zzzz'" in missing.stderr


def test_report_with_no_executions_says_so(tmp_path):
    subprocess.run([sys.executable, "-c", f"from redun_fast import Scheduler; "
                    f"Scheduler(cache_dir={str(tmp_path / 'cache')!r}).close()"], check=True)
    out = redun_fast("report", cache=tmp_path / "cache")
    assert out.returncode == 2 and "no executions in" in out.stderr


def busy_worker_run(jobs, batch):
    """`jobs` jobs on one worker in batches of `batch`, back to back over 10 seconds."""
    start = 1000.0
    seconds = 10.0 * batch / jobs
    records = []
    for i in range(jobs):
        began = start + (i // batch) * seconds
        records.append(JobRecord(i + 1, "t.work", b"h" * 16, "DONE", start, began + seconds,
                                 None, 0, 0, "processes", "node1:7", 0.001, 1 << 20,
                                 (began, seconds, batch)))
    execution = ExecutionRecord("0" * 32, start, start + 10.0, "t.work(...)", "done",
                                {"t.work": [0, 0, 0, 0, jobs]}, None)
    return execution, records


def test_a_big_run_is_summarized_a_busy_worker_filling_its_lane():
    execution, jobs = busy_worker_run(50_000, batch=100)
    page = render(execution, jobs)
    assert "summarized" in page and DETAIL_JOBS < len(jobs)
    shapes = re.findall(r'<rect x="([\d.]+)" y="([\d.]+)" width="[\d.]+" height="([\d.]+)" '
                        r'fill="[^"]+" data-task="0">', page)
    assert len(shapes) == BINS  # one shape per slice, not per job
    # The worker ran one batch after another all the time: every slice is full.
    assert all(abs(float(height) - LANE) < 0.2 for _, _, height in shapes)
    assert len(page) < 200_000


def test_a_worker_idle_half_the_time_fills_half_its_lane():
    execution, jobs = busy_worker_run(5_000, batch=10)
    # Keep the batches of the first half of the run only: the worker is idle after 5 s.
    jobs = [job for job in jobs if job.batch[0] < 1005.0]
    page = render(execution, jobs)
    heights = [float(height) for height in re.findall(
        r'<rect x="[\d.]+" y="[\d.]+" width="[\d.]+" height="([\d.]+)" fill="[^"]+" '
        r'data-task="0">', page)]
    assert len(heights) == BINS // 2
    assert all(abs(height - LANE) < 0.2 for height in heights)


def test_a_batch_of_jobs_is_drawn_as_its_jobs_one_after_the_other():
    execution, jobs = busy_worker_run(40, batch=4)  # batches of 4 jobs, 1 s each
    page = render(execution, jobs)
    bars = re.findall(r'<rect x="([\d.]+)" y="\d+" width="([\d.]+)" height="9"', page)
    assert len(bars) == 40
    widths = {round(float(width)) for _, width in bars}
    assert widths == {25}  # 0.25 s of a 10 s timeline 1000 units wide
    starts = sorted(float(x) for x, _ in bars)
    assert all(abs(b - a - 25) < 0.2 for a, b in zip(starts, starts[1:]))  # back to back
