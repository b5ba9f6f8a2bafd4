"""Modules a function never runs, loaded only if something really uses them.

The Alibaba SDK core imports aiohttp, asyncio and aiofiles at module level for its asynchronous API, and every client
module imports the core. Our functions make synchronous calls only, yet a cold start paid for those imports (aiohttp
alone is about a third of importing a client). ``defer`` puts a stand-in module in ``sys.modules`` for each name not
imported yet: ``import aiohttp`` binds the stand-in at no cost, and the first attribute read on it (the first
asynchronous call, or ``from aiohttp import X``) imports the real module and answers from it. Nothing changes for
code that uses the module; code that never does never pays for it.

Called first thing by each function's ``index.py`` (the deployed entry), never by the library or the CLI; the local
host, which loads those files, gets the stand-ins too, harmlessly (they load at their first use).
The packaging step removes the SDK's few import-time reads of these modules (``packaging.VENDOR_PATCHES``);
without them the stand-in is simply loaded at once, so a missed read costs time, never correctness.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import threading
import types

ASYNC_ONLY = ("aiohttp", "aiofiles", "asyncio")
"""What the SDK imports for its asynchronous API only."""

_lock = threading.RLock()
"""Re-entrant: loading one deferred module may read another (aiohttp uses asyncio)."""


class DeferredModule(types.ModuleType):
    """Stands in for a module until one of its attributes is read; then imports it and answers from it."""

    def __getattr__(self, attribute: str) -> object:
        with _lock:
            if sys.modules.get(self.__name__) is self:
                del sys.modules[self.__name__]  # let the import system load the real module under its own name
            real = importlib.import_module(self.__name__)
        self.__dict__.update(real.__dict__)  # later reads find the real attributes without coming back here
        return getattr(real, attribute)


def defer(names: tuple[str, ...] = ASYNC_ONLY) -> tuple[str, ...]:
    """Stand-ins for the modules of ``names`` not imported yet; returns the names deferred.

    With asyncio deferred, log records stop asking it for the current task's name (Python 3.12's logging does so
    whenever asyncio is in ``sys.modules``, which would load it at the first log line): no code here runs in a task.
    Pydantic's plugin discovery is turned off unless the environment says otherwise: no plugin is deployed, and
    discovery reads the entry points of every distribution in the package at the first model (~4 ms).
    """
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    deferred = []
    with _lock:
        for name in names:
            if name not in sys.modules:
                sys.modules[name] = DeferredModule(name, f"deferred by {__name__} until first use")
                deferred.append(name)
    if "asyncio" in deferred:
        logging.logAsyncioTasks = False  # type: ignore[attr-defined]  # (3.12's flag; the project checks for 3.10)
    return tuple(deferred)
