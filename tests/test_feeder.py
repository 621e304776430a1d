"""The pool's batching and death handling (executors/feeder.py), over a worker handle that runs
its batches in this process with the worker protocol: what a pilot worker on another node
will reuse, tested without processes."""
import pickle

from redun_fast import task
from redun_fast.errors import WorkerDiedError
from redun_fast.executors.base import Outstanding
from redun_fast.executors.feeder import Feeder, WorkerHandle
from redun_fast.executors.protocol import load_definitions, run_and_encode

redun_namespace = "feedertest"


@task
def double(x):
    return 2 * x


class Job:
    """What the feeder needs of a job (the scheduler's are compiled graph nodes)."""

    def __init__(self, task, *args):
        self.task, self.args, self.kwargs = task, args, {}


class InProcessWorker(WorkerHandle):
    """Runs the batches it was sent one at a time, in order, when `step` is called, as a
    worker process does; "dies" (losing what it holds) on a job whose argument is "die". One
    that `dies_at_once` is gone before it takes anything (its pipe is broken)."""

    def __init__(self, number, dies_at_once=False):
        super().__init__()
        self.number, self.dies_at_once = number, dies_at_once
        self.functions, self.names, self.inbox = {}, {}, []
        self.most_inflight = 0

    @property
    def label(self):
        return f"worker {self.number}"

    def send(self, data):
        if self.dies_at_once:
            raise BrokenPipeError("the worker is gone")
        self.inbox.append(data)
        self.most_inflight = max(self.most_inflight, len(self.inbox))

    def step(self):
        """Run the next batch: ("results", ...) or ("refused", ...), or None if it died."""
        _, batch_id, definitions, jobs = pickle.loads(self.inbox.pop(0))
        load_definitions(pickle.loads(definitions), self.functions, self.names)
        jobs = pickle.loads(jobs)
        if any(args == ("die",) or args == (f"kills worker {self.number}",)
               for _, _, args, _ in jobs):
            return None
        return pickle.loads(run_and_encode(batch_id, self.functions, self.names, jobs))

    def how_it_died(self):
        return "exit code 9"


def run(values, workers, batch_seconds=0.002, job_seconds=None, max_crashes=1):
    """Feed jobs double(value) to the workers until every job is delivered; the results."""
    delivered = []
    outstanding = Outstanding()
    feeder = Feeder(outstanding, batch_seconds, max_batch=4096, max_crashes=max_crashes)
    feeder.job_seconds = job_seconds  # as measured by earlier batches, if given
    jobs = [Job(double, value) for value in values]
    outstanding.add(jobs, delivered.extend)
    feeder.add(jobs)
    made = len(workers)
    for _ in range(10_000):  # bounded: each round answers at least one batch
        if len(delivered) == len(jobs):
            break
        dead = feeder.distribute(workers)
        for worker in list(workers):
            if worker not in dead and worker.inbox:
                message = worker.step()
                if message is not None:
                    handle = feeder.received if message[0] == "results" else feeder.refused
                    handle(worker, *message[1:])
                    continue
            elif worker not in dead:
                continue
            index = workers.index(worker)
            if feeder.died(worker):
                made += 1
                workers[index] = InProcessWorker(made, worker.dies_at_once)
            else:
                del workers[index]
    return {job.args[0]: (ok, value) for job, ok, value in delivered}, feeder


def test_jobs_travel_in_batches_and_come_back_once():
    workers = [InProcessWorker(1), InProcessWorker(2)]
    results, feeder = run(range(500), workers)
    assert results == {i: (True, 2 * i) for i in range(500)}
    assert feeder.jobs_sent == 500 and feeder.batches_sent < 100  # batched, not one by one
    assert all(worker.most_inflight <= 2 for worker in workers)


def test_only_the_job_that_kills_a_worker_fails():
    results, feeder = run([1, 2, "die", 3, 4], [InProcessWorker(1)])
    error = results.pop("die")[1]
    assert isinstance(error, WorkerDiedError)
    assert str(error) == "worker 2 running feedertest.double died: exit code 9"
    assert results == {1: (True, 2), 2: (True, 4), 3: (True, 6), 4: (True, 8)}


def test_a_batch_the_dead_worker_had_not_started_is_not_blamed():
    # Known-fast jobs: a worker holds two batches. It dies running the first, a lone killer;
    # the job of its second batch used to fail with it (a batch of one "must" be the killer).
    delivered = []
    outstanding = Outstanding()
    feeder = Feeder(outstanding, 0.002, max_batch=4096)
    feeder.job_seconds = 1e-6
    killer, innocent = Job(double, "die"), Job(double, 5)
    outstanding.add([killer, innocent], delivered.extend)
    worker = InProcessWorker(1)
    feeder.add([killer])
    feeder.distribute([worker])
    feeder.add([innocent])  # a later wave: a second batch for the same worker
    feeder.distribute([worker])
    assert len(worker.inflight) == 2
    assert worker.step() is None  # it dies running the first
    assert feeder.died(worker)
    fresh = InProcessWorker(2)
    feeder.distribute([fresh])
    feeder.received(fresh, *fresh.step()[1:])
    results = {job.args[0]: (ok, value) for job, ok, value in delivered}
    assert isinstance(results["die"][1], WorkerDiedError)
    assert results[5] == (True, 10)


def test_workers_that_die_as_they_start_fail_every_job():
    results, feeder = run(range(20), [InProcessWorker(1, dies_at_once=True)])
    assert feeder.broken is not None and "die as they start: exit code 9" in str(feeder.broken)
    assert len(results) == 20
    assert all(not ok and value is feeder.broken for ok, value in results.values())


def test_with_max_crashes_a_job_fails_only_after_killing_that_many_workers():
    results, feeder = run([1, "die", 2, "kills worker 2"], [InProcessWorker(1)], max_crashes=3)
    error = results.pop("die")[1]
    assert isinstance(error, WorkerDiedError)
    assert "died: exit code 9; it was running alone on each of the 3 workers that died" in str(
        error)
    # Killed worker 2 once (a node that failed, say), then ran on another: not a killer.
    assert results == {1: (True, 2), 2: (True, 4), "kills worker 2": (True, "kills worker 2" * 2)}
    assert not feeder.crashes  # forgiven once it succeeded


def test_a_worker_that_leaves_hands_back_what_it_had_not_started():
    delivered = []
    outstanding = Outstanding()
    feeder = Feeder(outstanding, 0.002, max_batch=4096)
    feeder.job_seconds = 1e-6
    jobs = [Job(double, value) for value in range(4)]
    outstanding.add(jobs, delivered.extend)
    leaving = InProcessWorker(1)
    feeder.add(jobs[:2])
    feeder.distribute([leaving])
    feeder.add(jobs[2:])
    feeder.distribute([leaving])
    assert len(leaving.inflight) == 2 and feeder.waiting == 0
    feeder.left(leaving)  # its allocation ends: it ran none of them
    assert feeder.waiting == 4 and feeder.startup_deaths == 0 and not delivered
    fresh = InProcessWorker(2)
    for _ in range(10):
        feeder.distribute([leaving, fresh])  # the one that left is sent nothing
        if not fresh.inbox:
            break
        feeder.received(fresh, *fresh.step()[1:])
    assert sorted((job.args[0], value) for job, ok, value in delivered) == [
        (0, 0), (1, 2), (2, 4), (3, 6)]
    assert len(leaving.inbox) == 2  # nothing sent after it left


def test_a_worker_not_accepting_work_is_sent_none():
    class Closing(InProcessWorker):
        def accepting(self):
            return False

    outstanding = Outstanding()
    feeder = Feeder(outstanding, 0.002, max_batch=4096)
    jobs = [Job(double, 1)]
    outstanding.add(jobs, lambda results: None)
    feeder.add(jobs)
    closing, open_one = Closing(1), InProcessWorker(2)
    feeder.distribute([closing, open_one])
    assert not closing.inbox and len(open_one.inbox) == 1


def test_the_first_worker_to_arrive_leaves_the_coming_ones_their_share():
    outstanding = Outstanding()
    feeder = Feeder(outstanding, 0.002, max_batch=4096)
    jobs = [Job(double, value) for value in range(9)]
    outstanding.add(jobs, lambda results: None)
    feeder.add(jobs)
    first = InProcessWorker(1)
    feeder.distribute([first], coming=2)  # two more pilots are in Slurm's queue
    assert len(first.inflight) == 1 and feeder.waiting == 6
    second = InProcessWorker(2)
    feeder.distribute([first, second], coming=1)
    assert len(second.inflight) == 1 and feeder.waiting == 3
