"""Email senders (SMTP, log) and the background relay that drains the outbox."""

from adapters.email.log import LogEmailSender
from adapters.email.relay import EmailRelay
from adapters.email.smtp import SmtpEmailSender

__all__ = ["EmailRelay", "LogEmailSender", "SmtpEmailSender"]
