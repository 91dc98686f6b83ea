"""The project's own tests use the STS pytest plugin; installing STS enables it nowhere else."""

pytest_plugins = ["sts.testing"]
