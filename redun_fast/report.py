"""`redun_fast report`: one run as one self-contained HTML page (inline CSS, SVG and a little
script; nothing is fetched, so it opens anywhere, offline, as a CI artifact).

The page: the run's call, state, duration, result and job counts; a timeline of the jobs
that ran, one lane per worker process, colored by task, with the replayed (cached) jobs in
a lane of their own; a table per task (jobs, cached, failed, duration min/median/max, CPU
time and peak memory per job); what a Slurm executor asked for next to what the jobs used;
the failed jobs with their errors.

It stays small and fast to open however big the run: up to DETAIL_JOBS jobs are drawn one bar
each; past that the timeline is summarized, each lane cut into BINS time slices that show how
many jobs of each task ran there on average (a stacked area), so a run of 10^6 jobs is a few
thousand shapes. Lanes past MAX_LANES are merged into one; tasks past the palette share one
color. Only the first SHOWN_FAILURES failures are shown in full, the rest counted.
"""
import html
import math
import statistics
import time
from collections import defaultdict
from typing import Any, Dict, List, Sequence, Tuple

from redun_fast.accounting import (
    TaskSummary, error_line, failure_kinds, format_bytes, format_seconds, task_summaries)
from redun_fast.cache.records import ExecutionRecord, JobRecord
from redun_fast.output import JobCounts

DETAIL_JOBS = 2000
BINS = 200
MAX_LANES = 24
MAX_ROWS = 8  # overlapping bars in one lane (a thread pool) stack this high at most
SHOWN_FAILURES = 20
# Tableau 10 and two more: distinct on white, and for most color vision.
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
           "#ff9da7", "#9c755f", "#bab0ac", "#86bcb6", "#d37295")
OTHER_COLOR = "#cccccc"
CACHED_COLOR = "#9aa5b1"

WIDTH = 1000  # the timeline's plot, in SVG units; labels go left of it
LABEL = 230
BAR = 9  # one row of bars
LANE = 34  # a summarized lane


def render(execution: ExecutionRecord, jobs: Sequence[JobRecord]) -> str:
    """The report of one execution, from its record and its job records, as HTML."""
    summaries = task_summaries(jobs)
    colors = _task_colors(summaries)
    sections = [
        _header(execution, jobs),
        _timeline(execution, jobs, colors),
        _task_table(summaries, colors),
        _slurm_table(execution.requested or {}, summaries, jobs),
        _failures(jobs),
    ]
    title = f"redun_fast run {execution.id[:8]}"
    return _PAGE.format(title=_e(title), css=_CSS, script=_SCRIPT,
                        body="\n".join(section for section in sections if section))


def write(store: Any, execution: ExecutionRecord, path: str) -> int:
    """Write the report of `execution` (from `store`) to `path`; returns its size in bytes."""
    page = render(execution, store.job_records(execution.id)).encode()
    with open(path, "wb") as out:
        out.write(page)
    return len(page)


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _task_colors(summaries: List[TaskSummary]) -> Dict[str, Tuple[int, str]]:
    """task -> (index in the legend, color); the busiest tasks get the palette."""
    ranked = sorted(summaries, key=lambda summary: -summary.jobs)
    return {summary.task: (i, PALETTE[i] if i < len(PALETTE) else OTHER_COLOR)
            for i, summary in enumerate(ranked)}


# The header: what ran, how it ended, the counts.

def _header(execution: ExecutionRecord, jobs: Sequence[JobRecord]) -> str:
    totals = JobCounts.from_dict(execution.counts or {}).get_all()
    ran = sum(job.status != "CACHED" for job in jobs)
    facts = [("state", execution.shown_state),
             ("started", time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(execution.start))),
             ("duration", format_seconds(execution.duration)),
             ("host", f"{execution.host or '-'} (pid {execution.pid or '-'})")]
    if execution.result is not None:
        facts.append(("result", execution.result))
    if execution.error:
        facts.append(("error", execution.error))
    rows = "".join(f"<tr><th>{_e(name)}</th><td><code>{_e(value)}</code></td></tr>"
                   for name, value in facts)
    counts = [("jobs", len(jobs)), ("ran", ran), ("done", totals["DONE"]),
              ("cached", totals["CACHED"]), ("failed", totals["FAILED"])]
    tiles = "".join(f'<div class="tile" id="count-{name}"><b>{count:,}</b>{name}</div>'
                    for name, count in counts)
    return (f'<h1>Execution <code>{_e(execution.id)}</code> '
            f'<span class="state {_e(execution.shown_state)}">{_e(execution.shown_state)}</span>'
            f'</h1>\n<p class="call"><code>{_e(execution.call)}</code></p>\n'
            f'<div class="tiles">{tiles}</div>\n<table class="facts">{rows}</table>')


# The timeline.

Span = Tuple[JobRecord, float, float]  # a job, and when it ran (see _spans)


def _lanes(jobs: Sequence[JobRecord]) -> List[Tuple[str, List[Span]]]:
    """The jobs that ran, by the process that ran them (or by executor where no process is
    known: threads, the scheduler itself), busiest first past MAX_LANES."""
    by_lane: Dict[str, List[JobRecord]] = defaultdict(list)
    for job in jobs:
        if job.status != "CACHED":
            by_lane[f"{job.executor or '-'}  {job.worker or ''}".strip()].append(job)
    lanes = [(name, _spans(lane_jobs)) for name, lane_jobs in by_lane.items()]
    lanes.sort(key=lambda lane: (lane[0].split()[0], min(lo for _, lo, _ in lane[1])))
    if len(lanes) > MAX_LANES:
        lanes.sort(key=lambda lane: -len(lane[1]))
        rest = [span for _, spans in lanes[MAX_LANES - 1:] for span in spans]
        lanes = lanes[:MAX_LANES - 1] + [(f"{len(lanes) - MAX_LANES + 1} other workers", rest)]
    return lanes


def _spans(jobs: List[JobRecord]) -> List[Span]:
    """When each job ran. A worker measures a batch, not each of its jobs: the batch's jobs
    are laid out one after the other in it, each its share long (exact for a batch of one, a
    long job's). Jobs not measured span from their dispatch until their value was final."""
    spans = []
    seen: Dict[tuple, int] = defaultdict(int)  # batch -> its jobs laid out so far
    for job in jobs:
        if job.batch is None:
            spans.append((job, job.start, job.end))
            continue
        began, seconds, count = job.batch
        share = seconds / count
        k = seen[job.worker, job.batch]
        seen[job.worker, job.batch] = k + 1
        spans.append((job, began + k * share, began + (k + 1) * share))
    return spans


def _timeline(execution: ExecutionRecord, jobs: Sequence[JobRecord],
              colors: Dict[str, Tuple[int, str]]) -> str:
    if not jobs:
        return ""
    lanes = _lanes(jobs)
    cached = [job for job in jobs if job.status == "CACHED"]
    moments = [job.end for job in cached] + [moment for _, spans in lanes
                                             for _, lo, hi in spans for moment in (lo, hi)]
    start = min(execution.start, min(moments))
    span = max(max(execution.end or 0, max(moments)) - start, 1e-6)
    detailed = sum(len(spans) for _, spans in lanes) <= DETAIL_JOBS
    shapes: List[str] = []
    y = 22
    for name, spans in lanes:
        if detailed:
            height = _bars(shapes, spans, start, span, y, colors)
        else:
            height = _area(shapes, spans, start, span, y, colors)
        shapes.append(f'<text x="{LABEL - 6}" y="{y + min(height, LANE) / 2 + 4:.0f}" '
                      f'class="lane">{_e(name)} ({len(spans):,})</text>')
        y += height + 6
    if cached:
        _histogram(shapes, cached, start, span, y)
        shapes.append(f'<text x="{LABEL - 6}" y="{y + LANE / 2 + 4:.0f}" class="lane">'
                      f'cached, replayed ({len(cached):,})</text>')
        y += LANE + 6
    axis = _axis(span, y)
    how = ("one bar per job" if detailed else
           f"summarized: each lane cut in {BINS} slices, a color as high as the share of the "
           "slice that task's jobs kept the worker busy")
    legend = "".join(
        f'<span class="key" data-task="{index}"><i style="background:{color}"></i>'
        f'{_e(task)}</span>' for task, (index, color) in sorted(colors.items(),
                                                                 key=lambda item: item[1][0]))
    return (f'<h2>Timeline</h2>\n<p class="note">{len(jobs):,} jobs over '
            f'{format_seconds(span)}, {_e(how)}; a lane is a worker process. A worker measures '
            f'batches of jobs, whose jobs are drawn one after the other in them. Hover a task '
            f'to pick it out.</p>\n<div class="legend">{legend}</div>\n'
            f'<svg id="timeline" viewBox="0 0 {LABEL + WIDTH + 10} {y + 30}" '
            f'width="{LABEL + WIDTH + 10}" height="{y + 30}">{"".join(shapes)}{axis}</svg>')


def _x(moment: float, start: float, span: float) -> float:
    return LABEL + (moment - start) / span * WIDTH


def _bars(shapes: List[str], spans: List[Span], start: float, span: float, y: float,
          colors: Dict[str, Tuple[int, str]]) -> int:
    """One bar per job, overlapping jobs on rows of their own; returns the lane's height."""
    row_ends: List[float] = []
    for job, lo, hi in sorted(spans, key=lambda span_: span_[1]):
        row = next((i for i, ended in enumerate(row_ends) if ended <= lo), None)
        if row is None:
            if len(row_ends) < MAX_ROWS:
                row_ends.append(0.0)
                row = len(row_ends) - 1
            else:  # too many at once: on the row that frees first
                row = min(range(MAX_ROWS), key=row_ends.__getitem__)
        row_ends[row] = hi
        index, color = colors[job.task_name]
        x = _x(lo, start, span)
        width = max(_x(hi, start, span) - x, 0.8)
        title = f"{job.task_name} {job.status} {format_seconds(hi - lo)}, job {job.job_id:016x}"
        if job.batch is not None and job.batch[2] > 1:
            title += f" (in a batch of {job.batch[2]:,} jobs)"
        failed = ' class="failed"' if job.status == "FAILED" else ""
        shapes.append(f'<rect x="{x:.1f}" y="{y + row * (BAR + 1)}" width="{width:.1f}" '
                      f'height="{BAR}" fill="{color}" data-task="{index}"{failed}>'
                      f'<title>{_e(title)}</title></rect>')
    return max(len(row_ends), 1) * (BAR + 1)


def _area(shapes: List[str], spans: List[Span], start: float, span: float, y: float,
          colors: Dict[str, Tuple[int, str]]) -> int:
    """Per time slice, how busy each task's jobs kept the lane: a stacked area, one pass
    over the jobs (slices a job covers whole are counted with a difference array)."""
    width = span / BINS
    busy: Dict[str, List[float]] = {}  # task -> seconds of its jobs in each slice
    whole: Dict[str, List[int]] = {}  # task -> difference array of slices covered whole
    for job, lo, hi in spans:
        row = busy.get(job.task_name)
        if row is None:
            row = busy[job.task_name] = [0.0] * BINS
        low, high = (lo - start) / width, (hi - start) / width
        first, last = min(int(low), BINS - 1), min(int(high), BINS - 1)
        if first == last:  # the common case: a job shorter than a slice
            row[first] += hi - lo
            continue
        row[first] += (first + 1 - low) * width
        row[last] += (high - last) * width
        if last > first + 1:
            covered = whole.get(job.task_name)
            if covered is None:
                covered = whole[job.task_name] = [0] * (BINS + 1)
            covered[first + 1] += 1
            covered[last] -= 1
    for task, covered in whole.items():
        running, row = 0, busy[task]
        for i in range(BINS):
            running += covered[i]
            row[i] += running * width
    # A worker runs one job at a time: its lane's full height is "busy all the slice".
    scale = max(1.0, max(sum(row[i] for row in busy.values()) for i in range(BINS)) / width)
    order = sorted(busy, key=lambda task: colors[task][0])
    for i in range(BINS):
        base = y + LANE
        x = LABEL + i * WIDTH / BINS
        for task in order:
            mean = busy[task][i] / width
            height = mean / scale * LANE
            if height < 0.05:  # invisible: not worth its bytes
                continue
            index, color = colors[task]
            base -= height
            shapes.append(f'<rect x="{x:.1f}" y="{base:.1f}" width="{WIDTH / BINS + 0.3:.1f}" '
                          f'height="{height:.1f}" fill="{color}" data-task="{index}">'
                          f'<title>{_e(task)}: {mean:.2f} running</title></rect>')
    return LANE


def _histogram(shapes: List[str], jobs: List[JobRecord], start: float, span: float,
               y: float) -> None:
    """How many jobs were replayed from the cache in each time slice."""
    counts = [0] * BINS
    for job in jobs:
        counts[min(int((job.end - start) / span * BINS), BINS - 1)] += 1
    most = max(counts)
    for i, count in enumerate(counts):
        if count:
            height = max(count / most * LANE, 1.0)
            shapes.append(f'<rect x="{LABEL + i * WIDTH / BINS:.1f}" y="{y + LANE - height:.1f}" '
                          f'width="{WIDTH / BINS + 0.3:.1f}" height="{height:.1f}" '
                          f'fill="{CACHED_COLOR}"><title>{count:,} replayed</title></rect>')


def _axis(span: float, y: float) -> str:
    step = _tick_step(span)
    ticks = []
    moment = 0.0
    while moment <= span * 1.0001:
        x = LABEL + moment / span * WIDTH
        ticks.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="14" y2="{y}" class="grid"/>'
                     f'<text x="{x:.1f}" y="{y + 16}" class="tick">{_tick_label(moment)}</text>')
        moment += step
    return "".join(ticks)


def _tick_step(span: float) -> float:
    """The smallest round step (1, 2 or 5 times a power of ten) giving at most 10 ticks."""
    exponent = math.floor(math.log10(span)) - 1
    return next(multiple * 10.0 ** power for power in range(exponent, exponent + 3)
                for multiple in (1, 2, 5) if span / (multiple * 10.0 ** power) <= 10)


def _tick_label(seconds: float) -> str:
    if seconds >= 120:
        return f"{seconds / 60:.0f} min" if seconds % 60 < 1 else f"{seconds / 60:.1f} min"
    return f"{seconds:g} s" if seconds >= 1 or seconds == 0 else f"{seconds * 1000:g} ms"


# The tables.

def _task_table(summaries: List[TaskSummary], colors: Dict[str, Tuple[int, str]]) -> str:
    header = ("task", "jobs", "cached", "failed", "min", "median", "max", "CPU / job",
              "CPU total", "peak memory", "executor")
    rows = []
    for summary in summaries:
        index, color = colors[summary.task]
        cells = [(summary.jobs, f"{summary.jobs:,}"), (summary.cached, f"{summary.cached:,}"),
                 (summary.failed, f"{summary.failed:,}")]
        cells += [(value, format_seconds(value)) for value in (
            summary.duration_min, summary.duration_median, summary.duration_max,
            summary.cpu_median, summary.cpu_total)]
        cells.append((summary.peak_max, format_bytes(summary.peak_max)))
        numbers = "".join(f'<td data-sort="{"" if value is None else value}">{_e(text)}</td>'
                          for value, text in cells)
        rows.append(f'<tr data-task="{index}"><td><i style="background:{color}"></i>'
                    f'{_e(summary.task)}</td>{numbers}'
                    f'<td>{_e(", ".join(summary.executors) or "-")}</td></tr>')
    head = "".join(f"<th>{_e(name)}</th>" for name in header)
    return (f'<h2>Tasks</h2>\n<p class="note">Durations, CPU time and memory are of the jobs '
            f'that ran; CPU time is measured per batch of jobs in a worker and shared among '
            f'them, peak memory is the worker\'s during the batch. Click a column to sort.</p>\n'
            f'<table id="tasks" class="sortable"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def _slurm_table(requested: Dict[str, Dict[str, Any]], summaries: List[TaskSummary],
                 jobs: Sequence[JobRecord]) -> str:
    """For tasks an executor asked resources for: asked, next to used (to right-size)."""
    if not requested:
        return ""
    cores: Dict[str, List[float]] = defaultdict(list)  # CPU seconds / wall seconds, per job
    for job in jobs:
        if job.task_name in requested and job.cpu is not None and job.duration > 0:
            cores[job.task_name].append(job.cpu / job.duration)
    rows = []
    for summary in summaries:
        asked = requested.get(summary.task)
        if asked is None:
            continue
        used_cores = cores.get(summary.task)
        cells = [
            asked.get("cpus", "-"),
            f"{statistics.median(used_cores):.2f}" if used_cores else "-",
            format_bytes(asked.get("memory")), format_bytes(summary.peak_max),
            format_seconds(asked.get("time")), format_seconds(summary.duration_max),
        ]
        rows.append(f"<tr><td>{_e(summary.task)}</td>"
                    + "".join(f"<td>{_e(cell)}</td>" for cell in cells) + "</tr>")
    head = "".join(f"<th>{name}</th>" for name in (
        "task", "CPUs asked", "CPUs used (median)", "memory asked", "peak memory used",
        "time asked", "longest job"))
    return (f'<h2>Slurm: asked and used</h2>\n<p class="note">What each task\'s options (over '
            f'the executor\'s) asked of Slurm, next to what its jobs used.</p>\n'
            f'<table id="slurm"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody>'
            '</table>')


def _failures(jobs: Sequence[JobRecord]) -> str:
    failed = [job for job in jobs if job.status == "FAILED"]
    if not failed:
        return ""
    shown = "".join(
        f'<details{" open" if i < 3 else ""}><summary><code>{_e(job.task_name)}</code> job '
        f'{job.job_id:016x}: {_e(error_line(job.error))}</summary>'
        f'<pre>{_e((job.error or "")[-3000:])}</pre></details>'
        for i, job in enumerate(failed[:SHOWN_FAILURES]))
    rest = ""
    if len(failed) > SHOWN_FAILURES:
        kinds = failure_kinds(failed[SHOWN_FAILURES:])
        rest = (f"<p>{len(failed) - SHOWN_FAILURES:,} more failed jobs: " + ", ".join(
            f"{count:,} {_e(task)}: {_e(kind)}" for (task, kind), count in kinds.most_common())
            + "</p>")
    return f'<h2>Failures ({len(failed):,})</h2>\n<div id="failures">{shown}{rest}</div>'


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<script>window.onerror = function (message) {{
  document.documentElement.dataset.errors = (document.documentElement.dataset.errors || "")
    + message + "\\n"; }};</script>
<style>{css}</style></head>
<body>
{body}
<footer>Written by <code>redun_fast report</code>.</footer>
<script>{script}</script>
</body></html>
"""

_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px 32px; color: #1f2933; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 28px 0 6px; }
code, pre { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12.5px; }
.call { margin: 0 0 12px; color: #52606d; }
.state { font-size: 13px; padding: 2px 8px; border-radius: 10px; background: #e4e7eb; }
.state.done { background: #d9f2e0; } .state.failed { background: #fadbd8; }
.state.interrupted, .state.running { background: #fdf1c7; }
.tiles { display: flex; gap: 10px; margin: 8px 0 12px; }
.tile { border: 1px solid #d9dee3; border-radius: 6px; padding: 6px 14px; min-width: 70px;
        color: #52606d; } .tile b { display: block; font-size: 20px; color: #1f2933; }
table { border-collapse: collapse; } th, td { padding: 3px 10px; text-align: right; }
td:first-child, th:first-child, .facts td { text-align: left; }
.facts th { text-align: left; color: #52606d; font-weight: normal; padding-left: 0; }
thead th { border-bottom: 1px solid #9aa5b1; cursor: pointer; white-space: nowrap; }
tbody tr:nth-child(odd) { background: #f5f7fa; }
i { display: inline-block; width: 10px; height: 10px; margin-right: 6px; border-radius: 2px; }
.note { color: #52606d; margin: 0 0 6px; max-width: 1100px; }
.legend { margin: 4px 0; } .key { margin-right: 14px; cursor: default; white-space: nowrap; }
svg text { font-size: 11px; fill: #3e4c59; } svg .lane { text-anchor: end; }
svg .tick { text-anchor: middle; fill: #7b8794; } svg .grid { stroke: #e4e7eb; }
svg rect.failed { stroke: #b00020; stroke-width: 1; }
svg.focus rect[data-task] { opacity: 0.12; } svg.focus rect.picked { opacity: 1; }
details { margin: 4px 0; } summary { cursor: pointer; }
pre { background: #f5f7fa; padding: 8px; overflow-x: auto; max-height: 320px; }
footer { margin-top: 32px; color: #9aa5b1; font-size: 12px; }
"""

_SCRIPT = """
(function () {
  var timeline = document.getElementById("timeline");
  document.querySelectorAll(".key").forEach(function (key) {
    key.addEventListener("mouseenter", function () {
      if (!timeline) return;
      timeline.classList.add("focus");
      timeline.querySelectorAll('rect[data-task="' + key.dataset.task + '"]')
        .forEach(function (rect) { rect.classList.add("picked"); });
    });
    key.addEventListener("mouseleave", function () {
      if (!timeline) return;
      timeline.classList.remove("focus");
      timeline.querySelectorAll("rect.picked")
        .forEach(function (rect) { rect.classList.remove("picked"); });
    });
  });
  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.querySelectorAll("thead th").forEach(function (th, column) {
      th.addEventListener("click", function () {
        var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
        var down = th.dataset.order !== "down";
        th.dataset.order = down ? "down" : "up";
        rows.sort(function (a, b) {
          var x = a.cells[column], y = b.cells[column];
          var p = x.dataset.sort, q = y.dataset.sort, c;
          if (p !== undefined && q !== undefined) {
            c = (p === "" ? -1 : parseFloat(p)) - (q === "" ? -1 : parseFloat(q));
          } else {
            c = x.textContent.localeCompare(y.textContent);
          }
          return down ? -c : c;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });
  document.documentElement.dataset.ready = "yes";
})();
"""
