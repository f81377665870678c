"""E-mail to a culprit's author over SMTP (stdlib ``smtplib``), STARTTLS optional.

The message goes to the author's address from the commit, plus any fixed
recipients configured (a team list); a commit whose author has no reachable
address (none, or a GitHub no-reply one) and no fixed recipient is a
permanent failure that says so. The SMTP password is never part of an error
text: smtplib's errors carry the server's reply, which does not echo it.
A 4xx reply or a lost connection may pass (retryable); a 5xx reply will not.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import make_msgid

from perfsheriff.errors import ConfigError
from perfsheriff.notify.channel import DeliveryError, redact
from perfsheriff.notify.compose import Message
from perfsheriff.notify.restapi import DEFAULT_TIMEOUT


class EmailChannel:
    """Sends each message from ``sender`` through the SMTP server at ``host:port``."""

    def __init__(
        self,
        *,
        host: str,
        sender: str,
        port: int = 587,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = True,
        recipients: Sequence[str] = (),
        name: str = "email",
        timeout: float = DEFAULT_TIMEOUT,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        if not host.strip() or "@" not in sender:
            raise ConfigError(f"{name}: host and a sender address are required")
        if (username is None) != (password is None):
            raise ConfigError(f"{name}: give both username and password, or neither")
        self._name = name
        self._host = host
        self._port = port
        self._sender = sender
        self._username = username
        self._password = password
        self._starttls = starttls
        self._recipients = tuple(recipients)
        self._timeout = timeout
        self._tls_context = tls_context

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"EmailChannel(name={self._name!r}, host={self._host!r}, port={self._port})"

    def send(self, message: Message) -> None:
        to = list(dict.fromkeys([*([message.recipient] if message.recipient else []), *self._recipients]))
        if not to:
            raise DeliveryError(
                f"{self._name}: the culprit's author has no e-mail address to write to, and no fixed recipient is set",
                retryable=False,
            )
        mail = EmailMessage()
        mail["From"] = self._sender
        mail["To"] = ", ".join(to)
        mail["Subject"] = message.subject
        mail["Message-ID"] = make_msgid(domain=self._sender.rpartition("@")[2])
        mail.set_content(message.text)
        try:
            self._deliver(mail)
        except smtplib.SMTPResponseException as err:
            failure = self._failure(f"the server answered {err.smtp_code}", err)
            raise DeliveryError(failure, retryable=400 <= err.smtp_code < 500) from None
        except smtplib.SMTPRecipientsRefused:
            raise DeliveryError(f"{self._name}: the server refused every recipient", retryable=False) from None
        except smtplib.SMTPNotSupportedError as err:
            raise DeliveryError(self._failure("the server lacks a feature", err), retryable=False) from None
        except ssl.SSLCertVerificationError as err:
            raise DeliveryError(self._failure("the server's certificate", err), retryable=False) from None
        except (smtplib.SMTPServerDisconnected, TimeoutError, ConnectionError) as err:
            raise DeliveryError(self._failure("the connection failed", err), retryable=True) from None
        except OSError as err:  # smtplib.SMTPException is an OSError too; ssl errors are
            raise DeliveryError(self._failure("sending failed", err), retryable=True) from None

    def _deliver(self, mail: EmailMessage) -> None:
        with smtplib.SMTP(self._host, self._port, timeout=self._timeout) as smtp:
            if self._starttls:
                smtp.starttls(context=self._tls_context or ssl.create_default_context())
            if self._username is not None and self._password is not None:
                smtp.login(self._username, self._password)
            smtp.send_message(mail)

    def _failure(self, what: str, err: BaseException) -> str:
        reason = str(err)
        if isinstance(err, smtplib.SMTPResponseException):
            reply = err.smtp_error
            reason = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
        secrets = (self._password,) if self._password else ()
        return redact(f"{self._name}: {what}: {' '.join(reason.split())[:200] or type(err).__name__}", secrets)
