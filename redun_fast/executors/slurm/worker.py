"""One Slurm array element: `python -m redun_fast.executors.slurm.worker FOLDER INDEX`.

Runs the jobs of FOLDER/chunk_INDEX.pkl and writes FOLDER/result_INDEX.pkl atomically (write,
then rename), so the scheduler, or a later one after a crash, sees all of it or nothing.
Never opens the cache: only the scheduler does.
"""
import os
import pickle
import sys
import time

from redun_fast.executors.pool_worker import encode_results, run_batch
from redun_fast.executors.shipping import load_definition


def main(folder: str, index: int) -> None:
    with open(os.path.join(folder, "tasks.pkl"), "rb") as tasks:
        sys.path[:] = pickle.load(tasks)  # before the definitions: they may import user modules
        definitions = pickle.load(tasks)
    functions = {task_hash: load_definition(how, what) for task_hash, _, how, what in definitions}
    names = {task_hash: fullname for task_hash, fullname, _, _ in definitions}
    with open(os.path.join(folder, f"chunk_{index}.pkl"), "rb") as chunk:
        jobs = pickle.load(chunk)
    start = time.perf_counter()
    results = run_batch(functions, jobs)
    data = encode_results(index, time.perf_counter() - start, results,
                          {key: names[task_hash] for key, task_hash, _, _ in jobs})
    final = os.path.join(folder, f"result_{index}.pkl")
    with open(final + ".tmp", "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.rename(final + ".tmp", final)
    sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
