"""Sending email over SMTP with aiosmtplib."""

from __future__ import annotations

from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

import aiosmtplib

from application.common.ports import EmailSender, OutgoingEmail


class SmtpEmailSender(EmailSender):
    """One SMTP connection per email; failures raise aiosmtplib's errors for the caller to retry.

    `starttls=True` requires the server to upgrade the connection (port 587); `implicit_tls=True`
    speaks TLS from the first byte (port 465). Credentials are used only when a username is set.
    """

    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        password: str,
        starttls: bool,
        sender: str,
        timeout: float = 10,
        *,
        implicit_tls: bool = False,
    ) -> None:
        self._host = host
        self._port = port
        self._username = username or None
        self._password = password if username else None
        self._starttls = starttls and not implicit_tls
        self._implicit_tls = implicit_tls
        self._sender = sender
        self._timeout = timeout
        domain = parseaddr(sender)[1].rpartition("@")[2]
        # make_msgid() without a domain asks DNS for this host's FQDN, which can stall.
        self._message_id_domain = domain or "astra.local"

    def build_message(self, email: OutgoingEmail) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self._sender
        # Address() accepts exactly one mailbox, so a crafted "a@x, b@y" cannot add recipients.
        message["To"] = Address(addr_spec=email.to)
        message["Subject"] = email.subject
        message["Date"] = formatdate(localtime=False, usegmt=True)
        message["Message-ID"] = make_msgid(domain=self._message_id_domain)
        message.set_content(email.text)
        return message

    async def send(self, email: OutgoingEmail) -> None:
        await aiosmtplib.send(
            self.build_message(email),
            sender=parseaddr(self._sender)[1] or None,
            recipients=[email.to],
            hostname=self._host,
            port=self._port,
            username=self._username,
            password=self._password,
            start_tls=self._starttls,
            use_tls=self._implicit_tls,
            timeout=self._timeout,
        )
