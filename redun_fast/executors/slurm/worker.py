"""One Slurm array element: `python -m redun_fast.executors.slurm.worker FOLDER INDEX`.

Runs the jobs of FOLDER/chunk_INDEX.pkl (jobs keyed by eval hash, see protocol.py) and writes
FOLDER/result_INDEX.pkl atomically (write, then rename), so the scheduler, or a later one
after a crash, sees all of it or nothing. Never opens the cache: only the scheduler does.
"""
import os
import pickle
import sys

from redun_fast.executors.protocol import load_definitions, run_and_encode


def main(folder: str, index: int) -> None:
    with open(os.path.join(folder, "tasks.pkl"), "rb") as tasks:
        sys.path[:] = pickle.load(tasks)  # before the definitions: they may import user modules
        definitions = pickle.load(tasks)
    functions, names = {}, {}
    load_definitions(definitions, functions, names)
    with open(os.path.join(folder, f"chunk_{index}.pkl"), "rb") as chunk:
        jobs = pickle.load(chunk)
    data = run_and_encode(index, functions, names, jobs)
    final = os.path.join(folder, f"result_{index}.pkl")
    with open(final + ".tmp", "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.rename(final + ".tmp", final)
    sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
