"""Intake from ticketing and approval systems: one adapter per source, one contract (``contract.py``).

This module holds what owner-onboard needs to tell an intake call from a signed webhook without loading the intake
modules (YAML, the adapters, the vendor HTTP client): an owner function that serves no ticketing source never
imports them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

ENV_INTAKE_FILE = "RAM_DELEGATE_INTAKE_FILE"
"""The intake file's path; without it no intake module is loaded."""
SOURCES = ("jira", "github", "dingtalk", "feishu", "token")
JOB_KEY = "ramDelegateIntakeJob"
"""The key of an intake job in owner-onboard's asynchronous invocation payload."""


def source_of(path: str) -> str | None:
    """``/jira`` -> ``jira``: the sub-path names the source (None for the root, served as before)."""
    first = path.strip("/").split("/", 1)[0]
    return first if first in SOURCES else None


def job_of(event: bytes | str | Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The job of an asynchronous worker invocation, or None for anything else (an HTTP trigger event)."""
    if isinstance(event, (bytes, str)):
        head = event[:64]
        marker: bytes | str = JOB_KEY.encode() if isinstance(event, bytes) else JOB_KEY
        if marker not in head:  # type: ignore[operator]
            return None
        try:
            document = json.loads(event)
        except (ValueError, UnicodeDecodeError):
            return None
    else:
        document = event
    job = document.get(JOB_KEY) if isinstance(document, Mapping) else None
    return job if isinstance(job, Mapping) else None
