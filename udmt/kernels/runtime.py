"""Loads ``udmt._core`` with its OpenMP threads set to wait passively.

libgomp's default is to keep idle worker threads spinning for a while after each parallel region. Our kernels
are short bursts (a few milliseconds per frame) on machines with few cores that are often shared, so a spinning
worker steals the core that the Python thread, torch or another process needs next; measured on the 2-core
build machine under load, the fused DCF step took twice the wall time with two spinning threads as with one.
Passive waiting keeps the second thread's gain on an idle machine without that loss.

libgomp reads ``OMP_WAIT_POLICY`` once, when it is loaded, so the variable is set only around the import of
``udmt._core`` (the first to load the system libgomp in a udmt process; torch brings its own copy) and then
restored, leaving torch and child processes as the user configured them. A policy the user set is kept.
"""

from __future__ import annotations

import os
from types import ModuleType

_POLICY = "OMP_WAIT_POLICY"


def _load_core() -> ModuleType:
    user_set = _POLICY in os.environ
    if not user_set:
        os.environ[_POLICY] = "PASSIVE"
    try:
        from udmt import _core
    finally:
        if not user_set:
            del os.environ[_POLICY]
    return _core


core = _load_core()  # every kernel module takes udmt._core from here
