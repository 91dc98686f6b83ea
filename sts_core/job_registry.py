"""The registry of one scheduler: its tasks, their jobs, and the names they go by.

Plain bookkeeping, no time and no I/O: the scheduler adds and removes through it, the fire
loop looks jobs up in :attr:`JobRegistry.jobs` by name.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping
from typing import TypeVar

from .job import Job
from .task import Task

__all__ = ["JobRegistry", "unknown_name"]

T = TypeVar("T")


def unknown_name(what: str, name: str, known: Iterable[str]) -> str:
    """``no job named 'x'; known: a, b, ...`` (the first twenty)."""
    names = list(known)
    shown = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")
    return f"no {what} named {name!r}; known: {shown or 'none'}"


def _fresh_name(taken: Container[str], next_suffix: dict[str, int], base: str, form: str) -> str:
    """``form.format(base, N)`` for the first N from ``next_suffix[base]`` (2 at first) that
    is not ``taken``; O(1) amortised, since the counter only moves forward."""
    number = next_suffix.get(base, 2)
    while (name := form.format(base, number)) in taken:
        number += 1
    next_suffix[base] = number + 1
    return name


def _named(what: str, table: Mapping[str, T], name: str) -> T:
    try:
        return table[name]
    except KeyError:
        raise KeyError(unknown_name(what, name, table)) from None


class JobRegistry:
    """Tasks by name, jobs by name (in the order they were added), and each task's jobs."""

    def __init__(self) -> None:
        self.tasks: dict[str, Task] = {}
        self.jobs: dict[str, Job] = {}
        self._jobs_of_task: dict[str, list[Job]] = {}
        # The next suffix to try per default name (tasks: ``Base-N``; jobs: ``task[N]``), so
        # the ten-thousandth unnamed add costs what the first did. A suffix is never handed
        # out twice, so a new job cannot inherit the stored history of a removed one.
        self._next_task_suffix: dict[str, int] = {}
        self._next_job_suffix: dict[str, int] = {}

    def task(self, name: str) -> Task:
        """:raises KeyError: naming the task and the registered ones."""
        return _named("task", self.tasks, name)

    def job(self, name: str) -> Job:
        """:raises KeyError: naming the job and the scheduled ones."""
        return _named("job", self.jobs, name)

    def add_task(self, task: Task, name: str | None = None) -> Task:
        """Register ``task`` (again: a no-op). A taken default name gets a suffix
        (``ExampleTask-2``); a taken explicit name is an error."""
        if name is not None:
            task._rename(name)
        if self.tasks.get(task.name) is task:
            return task
        if task.name in self.tasks:
            if task.has_explicit_name:
                raise ValueError(f"a different task named {task.name!r} is already registered")
            task._rename(_fresh_name(self.tasks, self._next_task_suffix, task.name, "{}-{}"))
        self.tasks[task.name] = task
        return task

    def add_task_for_job(self, task: Task) -> bool:
        """Register ``task`` for a job about to be scheduled; whether it was new. If the
        job is not added after all, :meth:`drop_task_without_jobs` undoes this."""
        added = self.tasks.get(task.name) is not task
        self.add_task(task)
        return added

    def drop_task_without_jobs(self, task: Task) -> None:
        """A schedule that failed adds nothing: the task it registered (the caller asks
        only when :meth:`add_task_for_job` said it was new) goes again, unless a job of it
        came meanwhile."""
        if self.tasks.get(task.name) is task and not self.jobs_of_task(task):
            del self.tasks[task.name]

    def job_name(self, task: Task, name: str | None) -> str:
        """The name a new job of ``task`` gets: ``name`` if free, else the task's, else
        ``task[N]``."""
        if name is not None:
            if name in self.jobs:
                raise ValueError(f"a job named {name!r} is already scheduled")
            return name
        if task.name not in self.jobs:
            return task.name
        return _fresh_name(self.jobs, self._next_job_suffix, task.name, "{}[{}]")

    def add_job(self, job: Job) -> None:
        """Register ``job``, whose task is registered and whose name is free."""
        self.jobs[job.name] = job
        siblings = self._jobs_of_task.get(job.task.name)
        if siblings is None:
            # A list made for one job holds one slot; append would reserve four.
            self._jobs_of_task[job.task.name] = [job]
        else:
            siblings.append(job)

    def pop_task(self, task: Task | str) -> list[Job]:
        """Unregister a task; its jobs, unregistered too."""
        name = task if isinstance(task, str) else task.name
        self.task(name)  # a KeyError naming the registered tasks, when it is none of them
        jobs = self._jobs_of_task.pop(name, [])
        for job in jobs:
            self.jobs.pop(job.name, None)
        del self.tasks[name]
        return jobs

    def pop_job(self, target: Job | str) -> Job:
        """Unregister one job (its task stays); the job."""
        job = self.job(target if isinstance(target, str) else target.name)
        del self.jobs[job.name]
        siblings = self._jobs_of_task.get(job.task.name)
        if siblings is not None and job in siblings:
            siblings.remove(job)
        return job

    def swap_task(self, job: Job, task: Task) -> None:
        """Give ``job`` the task ``task`` (a live reload). The old task goes when it has no
        other job, and the new one takes its name: a config's task is named after its job."""
        old = job.task
        if task is old:
            return
        siblings = self._jobs_of_task.get(old.name, [])
        if job in siblings:
            siblings.remove(job)
        if not siblings:
            self._jobs_of_task.pop(old.name, None)
            if self.tasks.get(old.name) is old:
                del self.tasks[old.name]
            task._rename(old.name)
        self.add_task(task)
        job.task = task
        self._jobs_of_task.setdefault(task.name, []).append(job)

    def jobs_of_task(self, task: Task | str) -> list[Job]:
        return list(self._jobs_of_task.get(task if isinstance(task, str) else task.name, []))

    def resolve(self, target: Task | Job | str) -> list[Job]:
        """The jobs ``target`` means: a job, a task's jobs, or what a name names."""
        if isinstance(target, Job):
            return [target]
        if isinstance(target, Task):
            return self.jobs_of_task(target)
        if target in self.jobs:
            return [self.jobs[target]]
        if target in self.tasks:
            return self.jobs_of_task(target)
        raise KeyError(unknown_name("job", target, self.jobs))
