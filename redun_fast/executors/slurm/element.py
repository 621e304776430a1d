"""One Slurm array element: `python -m redun_fast.executors.slurm.element FOLDER INDEX`.

Runs the jobs of FOLDER/chunk_INDEX.pkl (jobs keyed by eval hash, see protocol.py) and writes
FOLDER/result_INDEX.pkl atomically (write, then rename), so the scheduler, or a later one
after a crash, sees all of it or nothing. What it reads and writes is signed with the key in
FOLDER/key (signing.py): nothing unsigned is unpickled. Never opens the cache.
"""
import os
import pickle
import sys

from redun_fast.executors.protocol import load_definitions, run_and_encode
from redun_fast.private import write_private
from redun_fast.signing import read_key, read_signed, sign
from redun_fast.task import require_exact_tasks


def main(folder: str, index: int) -> None:
    require_exact_tasks()  # tasks passed as values: the code the scheduler hashed, or an error
    key = read_key(os.path.join(folder, "key"))
    sys_path, definitions = pickle.loads(read_signed(key, os.path.join(folder, "tasks.pkl")))
    sys.path[:] = sys_path  # before the definitions: they may import user modules
    functions, names = {}, {}
    load_definitions(pickle.loads(definitions), functions, names)
    jobs = pickle.loads(read_signed(key, os.path.join(folder, f"chunk_{index}.pkl")))
    data = run_and_encode(index, functions, names, jobs)
    final = os.path.join(folder, f"result_{index}.pkl")
    if os.path.exists(final + ".tmp"):  # left by an earlier try of this element
        os.unlink(final + ".tmp")
    write_private(final + ".tmp", sign(key, data))
    with open(final + ".tmp", "rb") as written:
        os.fsync(written.fileno())
    os.rename(final + ".tmp", final)
    sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
