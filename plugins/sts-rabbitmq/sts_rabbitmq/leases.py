"""How a worker keeps an attempt it was granted, and when the scheduler lets another
worker take it over: the one rule both sides share.

The broker hands a worker's unacked fires to another worker whenever the first one's
channel closes: when it died, but also when the broker restarted, when its connection
blipped, or when it was frozen past its heartbeat. Only the first case calls for a
takeover, and neither the broker nor the redelivered copy can tell them apart. So the
holder of an attempt renews it (a *hold*, sent every ``HOLD_INTERVAL`` to the scheduler
that granted it) from its grant until its outcome is confirmed, and the scheduler grants
a takeover only once the holder has been silent for ``TAKEOVER_SILENCE``, counted from
the latest of its last renewal, the first claim that asked to take it over, and the
scheduler's own last connection to the broker (holds sent while it was cut off were lost
with its claims queue): a claimer that comes earlier is told to wait and ask again (it
keeps its copy, unacked, in case the holder dies after all). A holder that is alive
reconnects and renews within that time; one that is dead never does.

The holds also say when the holder started the run: the scheduler's timeout backstop
counts ``timeout + backstop`` from there, not from the grant (a granted fire may wait
long for one of its worker's slots).

A worker starts a granted attempt only if the claim that got the grant was sent less
than ``GRANT_FRESH`` ago (by its monotonic clock, which runs on while a process is
frozen): the scheduler renewed the hold when it answered, so no takeover can have been
granted before ``TAKEOVER_SILENCE`` after that. A grant that waited longer (for a slot,
or in a frozen process) is asked for again before the start.
"""

from __future__ import annotations

#: Seconds between a worker's renewals of the attempts it holds.
HOLD_INTERVAL = 1.0
#: Seconds a holder must have been silent before another worker may take its attempt over.
TAKEOVER_SILENCE = 5.0
#: Seconds a grant is good for, from the sending of its claim (below TAKEOVER_SILENCE).
GRANT_FRESH = 3.0
