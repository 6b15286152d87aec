"""An email sender that writes each message to the log instead of the network."""

from __future__ import annotations

import logging

from application.common.ports import EmailSender, OutgoingEmail


class LogEmailSender(EmailSender):
    """Logs the whole message, body included, at INFO.

    This is the embedded default (no SMTP configured): its purpose is to let a developer read
    verification codes and links from the console. Bodies carry one-time secrets, so never use
    it where logs are shipped or shared; production configures SMTP.
    """

    def __init__(self, logger_name: str = "astra.email") -> None:
        self._logger = logging.getLogger(logger_name)

    async def send(self, email: OutgoingEmail) -> None:
        self._logger.info("email to=%s subject=%r\n%s", email.to, email.subject, email.text)
