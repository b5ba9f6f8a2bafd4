"""Everything a handler needs from the outside world, injected (production builds it once per cold start)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from ram_delegate.audit import AuditLog
from ram_delegate.cloud import CloudClients
from ram_delegate.errors import ConfigurationError
from ram_delegate.notify import Notifier
from ram_delegate.policy import AccessProfile
from ram_delegate.settings import Settings

if TYPE_CHECKING:
    from ram_delegate.intake.service import IntakeRuntime

logger = logging.getLogger(__name__)


@dataclass
class Deps:
    """Settings, cloud clients, clock, notifier, audit log and the loaded access profiles."""

    settings: Settings
    cloud: CloudClients
    clock: Callable[[], datetime]
    notifier: Notifier
    audit: AuditLog
    profiles: Mapping[str, AccessProfile]
    intake: IntakeRuntime | None = None  # owner-onboard's /<source> sub-paths (RAM_DELEGATE_INTAKE_FILE)

    def account_id(self) -> str:
        """The account this function acts in; a deployment without it cannot tell its own resources apart."""
        account = self.settings.account_id
        if not account:
            raise ConfigurationError(
                f"the {self.settings.side} account id is not configured (RAM_DELEGATE_ACCOUNT_ID / FC_ACCOUNT_ID)"
            )
        return account

    def critical_alert(self, title: str, text: str) -> None:
        """Log at CRITICAL and, when an alert webhook is configured, post it there (best effort, never raises)."""
        logger.critical("%s: %s", title, text)
        url = self.settings.alert_webhook
        if url:
            self.notifier.alert(url, title, text, critical=True)
