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
    """Runs each batch when it is sent; "dies" (losing its batch) when a job's argument is
    "die". One that `dies_at_once` is gone before it takes anything (its pipe is broken)."""

    def __init__(self, number, dies_at_once=False):
        super().__init__()
        self.number, self.dies_at_once = number, dies_at_once
        self.functions, self.names, self.outbox = {}, {}, []
        self.most_inflight = 0

    @property
    def label(self):
        return f"worker {self.number}"

    def send(self, data):
        if self.dies_at_once:
            raise BrokenPipeError("the worker is gone")
        _, batch_id, definitions, jobs = pickle.loads(data)
        load_definitions(definitions, self.functions, self.names)
        if any(args == ("die",) for _, _, args, _ in jobs):
            self.outbox.append(None)
            return
        _, _, seconds, payload = pickle.loads(run_and_encode(batch_id, self.functions,
                                                             self.names, jobs))
        self.outbox.append((batch_id, seconds, payload))

    def how_it_died(self):
        return "exit code 9"


def run(values, workers, batch_seconds=0.002):
    """Feed jobs double(value) to the workers until every job is delivered; the results."""
    reported = []
    outstanding = Outstanding()
    feeder = Feeder(outstanding, batch_seconds, max_batch=4096)
    jobs = [Job(double, value) for value in values]
    outstanding.add(jobs, reported.extend)
    feeder.add(jobs)
    made = len(workers)
    for _ in range(10_000):  # bounded: each round sends and answers at least one batch
        if len(reported) == len(jobs):
            break
        for worker in feeder.distribute(workers):
            worker.outbox.append(None)  # found dead while sending: handled as a death below
        for worker in list(workers):
            worker.most_inflight = max(worker.most_inflight, len(worker.inflight))
            while worker.outbox:
                message = worker.outbox.pop(0)
                if message is not None:
                    feeder.received(worker, *message)
                    continue
                index = workers.index(worker)
                if feeder.died(worker):
                    made += 1
                    workers[index] = InProcessWorker(made, worker.dies_at_once)
                else:
                    del workers[index]
                break
    return {job.args[0]: (ok, value) for job, ok, value in reported}, feeder


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


def test_workers_that_die_as_they_start_fail_every_job():
    results, feeder = run(range(20), [InProcessWorker(1, dies_at_once=True)])
    assert feeder.broken is not None and "die as they start: exit code 9" in str(feeder.broken)
    assert len(results) == 20
    assert all(not ok and value is feeder.broken for ok, value in results.values())
