"""``python -m sts``: the ``sts`` command, for when the console script is not on PATH."""

from sts_core.service.cli import main

raise SystemExit(main())
