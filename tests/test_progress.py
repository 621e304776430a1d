"""Live progress: a redrawn line on a terminal, periodic status tables in a log, nothing else."""
import os
import pty
import subprocess
import sys
import textwrap
import time

SCRIPT = textwrap.dedent("""
    import sys, time
    from redun_fast import Scheduler, task

    redun_namespace = "progress"

    @task
    def slow(x):
        time.sleep(0.01)
        return x

    scheduler = Scheduler(executor="inline", status_interval=float(sys.argv[1]))
    print(sum(scheduler.run([slow(i) for i in range(300)])))
""")


def run_with_stderr_on_a_terminal(script, *args):
    main, secondary = pty.openpty()
    proc = subprocess.Popen([sys.executable, str(script), *args], stdout=subprocess.PIPE,
                            stderr=secondary, text=False)
    os.close(secondary)
    chunks = []
    while True:
        try:
            data = os.read(main, 65536)
        except OSError:  # the other end closed
            break
        if not data:
            break
        chunks.append(data)
    out = proc.stdout.read().decode()
    proc.wait(timeout=60)
    os.close(main)
    return out, b"".join(chunks).decode(errors="replace")


def test_a_terminal_sees_a_live_progress_line(tmp_path):
    script = tmp_path / "slow.py"
    script.write_text(SCRIPT)
    out, err = run_with_stderr_on_a_terminal(script, "1000")
    assert out == f"{sum(range(300))}\n"
    assert "\r[redun] " in err and " jobs/s | ETA " in err
    assert "\r\x1b[K" in err  # erased before the final table
    assert err.count("| JOB STATUS") == 1


def test_a_log_gets_periodic_tables_and_no_progress_line(tmp_path):
    script = tmp_path / "slow.py"
    script.write_text(SCRIPT)
    start = time.time()
    out = subprocess.run([sys.executable, str(script), "1"], capture_output=True, text=True,
                         timeout=60)
    elapsed = time.time() - start
    assert out.stdout == f"{sum(range(300))}\n"
    assert "jobs/s" not in out.stderr and "\r" not in out.stderr
    assert out.stderr.count("| JOB STATUS") >= 1 + int(elapsed) - 2  # every second, then final
