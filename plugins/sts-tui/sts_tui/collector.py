"""The garbage collector while the job list loads, and what it walks afterwards.

Loading 10,000 jobs allocates enough to set off full collections, each a walk over every
object the UI holds (60,000 and more: widgets, styles, drawn lines): 25 ms on an idle
machine, over 100 ms on a busy one, in the middle of the load or, later, of a keystroke.
The load makes little cyclic garbage, so it runs without collections; what survives it is
then set aside (``gc.freeze``), so that later full collections walk only what came after,
until the connection ends (:func:`thaw`: what was set aside is collectable again).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def collections_paused() -> Iterator[None]:
    """No collection inside; on the way out, the young objects' garbage is collected
    (cheap: only they are walked) and the survivors are frozen."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.collect(1)
        gc.freeze()
        if enabled:
            gc.enable()


def thaw() -> None:
    """Make what :func:`collections_paused` froze collectable again (the connection ended,
    or the app quits: its widgets may become garbage now)."""
    gc.unfreeze()
