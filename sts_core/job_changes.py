"""The changes to a scheduler's jobs, made on its loop: adding a job (a scheduled one, or
the manual one ``run_now`` makes for a task that has none), replacing one in place (a live
reload), pausing and resuming, removing a task or a job.

Each keeps the registry, the fire loop, the store and the listeners in step. An add that
fails (a bad trigger, a plugin refusing the job) and a refused replace change nothing; a
store that fails to save or remove leaves the change made in memory, and the store to
catch up with its next write. None of it is thread-safe: the scheduler calls these through
``LoopThread.call``, on its loop once it runs (before, in the caller's thread).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .events import Notifier
from .fire_loop import FireLoop
from .job import Job, first_fire_within
from .job_registry import JobRegistry
from .policy import JobPolicy
from .task import Task
from .triggers import Trigger

if TYPE_CHECKING:
    from .scheduler import TaskScheduler

__all__ = ["JobChanges"]


class JobChanges:
    """The changes to one scheduler's jobs; each is called on the scheduler's loop."""

    def __init__(
        self, scheduler: TaskScheduler, registry: JobRegistry, fires: FireLoop, notifier: Notifier
    ) -> None:
        # The scheduler itself, read at each change rather than its clock, store, zone and
        # plugins kept here: `sts run module:object` swaps the store in after construction,
        # and a reload sets the default zone anew.
        self._scheduler = scheduler
        self._registry = registry
        self._fires = fires
        self._notifier = notifier

    def schedule(
        self, task: Task, name: str | None, trigger: Any, policy: JobPolicy, replace: bool
    ) -> Job:
        """``TaskScheduler.schedule``: a new job, or, with ``replace``, the job ``name``
        given this task, trigger and policy in place."""
        existing = self._registry.jobs.get(name) if replace and name is not None else None
        if existing is not None:
            return self.replace(existing, task, trigger, policy)
        return self.add(task, name, trigger, policy)

    def add(
        self,
        task: Task,
        name: str | None,
        trigger: Any,
        policy: JobPolicy,
        manual: bool = False,
    ) -> Job:
        """A new job of ``task`` on ``trigger`` (none if ``manual``: a job that only runs
        when asked), shown to the plugins (which may refuse it), registered, then
        announced. If any of it fails, nothing is added: the task registered for it goes
        again."""
        scheduler = self._scheduler
        registry = self._registry
        # A try block, not a context manager: this runs for every job added.
        added = registry.add_task_for_job(task)
        try:
            job_name = registry.job_name(task, name)
            resolved = None if manual else self._trigger(trigger, policy, job_name)
            job = Job(job_name, task, resolved, policy)
            # Asked before the job is registered: a trigger that breaks here is the
            # caller's error, and nothing is added.
            fire = (
                None
                if resolved is None
                else first_fire_within(resolved, scheduler.clock.now(), policy.start, policy.end)
            )
            scheduler.plugins.call("sts_job_scheduled", scheduler=scheduler, job=job)
            registry.add_job(job)
        except BaseException:
            if added:
                registry.drop_task_without_jobs(task)
            raise
        if resolved is not None:  # a job made for run_now has no fire of its own
            self._fires.set_next(job, fire)
        self._notifier.job_changed(job, "added")
        return job

    def job_for_manual_run(self, target: Task | Job | str) -> Job:
        """The job a manual run of ``target`` runs: the first job it names; for a task
        with none, a new job of it with no trigger (one that only runs when asked)."""
        registry = self._registry
        chosen = target
        if isinstance(chosen, str) and chosen not in registry.jobs:
            chosen = registry.tasks.get(chosen, chosen)
        if not isinstance(chosen, Task):
            jobs = registry.resolve(chosen)
        else:
            jobs = (
                registry.jobs_of_task(chosen) if registry.tasks.get(chosen.name) is chosen else []
            )
        if not jobs:
            assert isinstance(chosen, Task)
            return self.add(chosen, None, None, JobPolicy.build(chosen), manual=True)
        return jobs[0]

    def replace(self, job: Job, task: Task, trigger: Any, policy: JobPolicy) -> Job:
        """``schedule(..., replace=True)`` of a job that exists: it takes ``task``,
        ``trigger`` and ``policy``, and keeps its state, history and runs under way."""
        scheduler = self._scheduler
        resolved = self._trigger(trigger, policy, job.name)
        # Plugins see the job as it will be; refused, the registered one is left as it was.
        scheduler.plugins.call(
            "sts_job_scheduled", scheduler=scheduler, job=Job(job.name, task, resolved, policy)
        )
        before = (job.schedule, job.timezone, job.policy.start, job.policy.end)
        self._registry.swap_task(job, task)
        job.trigger, job.policy = resolved, policy
        job._schedule_text = None
        if (job.schedule, job.timezone, policy.start, policy.end) != before:
            now = scheduler.clock.now()
            try:
                self._fires.set_next(
                    job, first_fire_within(resolved, now, policy.start, policy.end)
                )
            except Exception as error:  # a trigger that breaks: set aside, as in a fire
                self._fires.set_aside(job, error, now)
        scheduler.store.save_job(job.state())
        self._notifier.job_changed(job, "changed")
        return job

    def set_paused(self, target: Task | Job | str, paused: bool) -> None:
        """Pause or resume the jobs ``target`` means."""
        for job in self._registry.resolve(target):
            self._fires.set_paused(job, paused)

    def remove_task(self, task: Task | str) -> None:
        """Remove a task and all its jobs, with their stored state."""
        for job in self._registry.pop_task(task):
            self._fires.forget(job)

    def remove_job(self, job: Job | str) -> None:
        """Remove one job (its task stays registered), with its stored state."""
        self._fires.forget(self._registry.pop_job(job))

    def _trigger(self, trigger: Any, policy: JobPolicy, job_name: str) -> Trigger:
        """The trigger of a job (made from text or a function), in the job's zone."""
        zone = policy.timezone or self._scheduler.timezone
        return self._scheduler.plugins.make_trigger(trigger, timezone=zone, job_name=job_name)
