"""Waiting in a cell for the student to press a widget's button.

While a cell runs, the kernel handles no widget events: a Start pressed during a check that waits for it
would only arrive after the check gave up. jupyter-ui-poll handles those events while the cell waits (and
queues cells run after it, e.g. by Run All, until the wait ends). Outside a kernel it is a plain wait.
"""
from __future__ import annotations

from typing import Callable

from ..progress import wait_until

POLL_EVENTS = 10  # widget events handled per poll


def wait_for_press(condition: Callable[[], object], timeout_s: float, what: str, on_timeout: str = "") -> object:
    """wait_until(condition, ...) that keeps the notebook's widgets working while it waits."""
    from IPython import get_ipython

    if getattr(get_ipython(), "kernel", None) is None:
        return wait_until(condition, timeout_s, what, on_timeout=on_timeout)
    from jupyter_ui_poll import ui_events

    with ui_events() as poll:
        def pressed():
            poll(POLL_EVENTS)
            return condition()

        return wait_until(pressed, timeout_s, what, on_timeout=on_timeout)
