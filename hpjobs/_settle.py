"""Settling a long-lived hpjobs process once it has started.

What an hpjobs process has loaded by the time it serves (SQLAlchemy, the store's models, the
service models requests are checked against, the web framework) is some 70,000 Python objects
that live as long as the process. Left in the garbage collector's care, each full collection walks
all of them: a pause of 13 to 35 ms every few hundred requests, which was most of a listing's p99
latency. A server, supervisor or tuner that has loaded what it needs moves all of it to the
collector's permanent generation (:func:`gc.freeze`), where full collections no longer look.
Library callers' processes are left as they are: their heap is theirs.
"""

from __future__ import annotations

import gc

__all__ = ["settle"]


def settle(*services: str) -> None:
    """Load the service models of ``services`` (those the process answers requests of), freeze
    everything loaded so far, and make sure collection is on (the CLI starts with it off, since a
    short command makes no garbage worth collecting).

    What start-up left as garbage (some 600 objects) is frozen with the rest rather than collected
    first: that collection would walk all 60,000 objects, about 40 ms at the start of every
    supervisor and so of every job, to free a few tens of kilobytes.
    """
    if services:
        from hpjobs import shapes

        for service in services:
            shapes.service_model(service)
    gc.freeze()
    gc.enable()
