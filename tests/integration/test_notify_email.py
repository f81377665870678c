"""The e-mail sender against a real local SMTP server (aiosmtpd)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from perfsheriff.notify import DeliveryError, EmailChannel, Outcome, RetryPolicy, dispatch
from support.fakeservers import culprit_message

PASSWORD = "smtp-pa55word-secret"


@dataclass
class Mailbox:
    """Records what the server accepts; ``reply`` scripts its answer to DATA (``250 OK``: accept)."""

    received: list[tuple[str, list[str], EmailMessage]] = field(default_factory=list)
    logins: list[tuple[bytes, bytes]] = field(default_factory=list)
    reply: str = "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.reply.startswith("250"):
            content = envelope.original_content or b""
            parsed = message_from_bytes(content, policy=policy.default)
            assert isinstance(parsed, EmailMessage)
            self.received.append((envelope.mail_from or "", list(envelope.rcpt_tos), parsed))
        return self.reply

    def authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.logins.append((data.login, data.password))
        return AuthResult(success=data.password == PASSWORD.encode(), handled=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    port = _free_port()
    controller = Controller(
        mailbox, hostname="127.0.0.1", port=port, authenticator=mailbox.authenticate, auth_require_tls=False
    )
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


def channel(port: int, **options: Any) -> EmailChannel:
    settings: dict[str, Any] = {"sender": "perfsheriff@example.org", "starttls": False, "timeout": 5.0} | options
    return EmailChannel(host="127.0.0.1", port=port, **settings)


def test_the_author_and_the_team_list_get_a_plain_text_mail(smtp: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp
    message = culprit_message()
    channel(port, recipients=["perf-team@example.org"]).send(message)
    ((sender, recipients, mail),) = mailbox.received
    assert sender == "perfsheriff@example.org"
    assert recipients == ["ada@example.org", "perf-team@example.org"]
    assert mail["Subject"] == message.subject
    assert mail["Subject"].startswith("[perfsheriff] demo main: cccccccccccc regressed parse by +18.0%")
    body = mail.get_content()
    assert "parse on linux, python=3.12: +18.0% regression, confidence 99%" in body
    assert "https://perf.example/summaries/42" in body
    assert f"perfsheriff compare --base {'b' * 40} --head {'c' * 40}" in body


def test_login_sends_the_password_and_a_refusal_does_not_repeat_it(
    smtp: tuple[Mailbox, int], caplog: pytest.LogCaptureFixture
) -> None:
    mailbox, port = smtp
    channel(port, username="perf", password=PASSWORD).send(culprit_message())
    assert mailbox.logins == [(b"perf", PASSWORD.encode())]
    assert len(mailbox.received) == 1
    caplog.set_level(logging.DEBUG)
    report = dispatch(
        culprit_message(),
        [channel(port, username="perf", password=PASSWORD + "-wrong")],
        now=datetime(2024, 5, 1, tzinfo=UTC),
        sleep=lambda _: None,
    )
    (result,) = report.results
    assert (result.outcome, result.attempts) == (Outcome.FAILED, 1)  # 535: retrying will not help
    assert "535" in result.reason
    assert PASSWORD not in result.reason
    assert not any(PASSWORD in record.getMessage() for record in caplog.records)


def test_an_author_without_an_address_is_a_clear_permanent_failure(smtp: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp
    for email in ("", "12345+ada@users.noreply.github.com"):
        with pytest.raises(DeliveryError, match="no e-mail address") as caught:
            channel(port).send(culprit_message(email=email))
        assert not caught.value.retryable
    channel(port, recipients=["perf-team@example.org"]).send(culprit_message(email=""))
    assert [r[1] for r in mailbox.received] == [["perf-team@example.org"]]


def test_a_temporary_refusal_is_retried(smtp: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp
    mailbox.reply = "451 try again later"
    pauses: list[float] = []
    report = dispatch(
        culprit_message(),
        [channel(port)],
        now=datetime(2024, 5, 1, tzinfo=UTC),
        retry=RetryPolicy(attempts=2, first_delay=0.5),
        sleep=pauses.append,
    )
    (result,) = report.results
    assert (result.outcome, result.attempts) == (Outcome.FAILED, 2)
    assert pauses == [0.5]
    assert "451" in result.reason


def test_starttls_against_a_server_without_it_fails_for_good(smtp: tuple[Mailbox, int]) -> None:
    _, port = smtp
    with pytest.raises(DeliveryError, match="STARTTLS") as caught:
        channel(port, starttls=True).send(culprit_message())
    assert not caught.value.retryable


def test_no_server_is_a_retryable_failure() -> None:
    with pytest.raises(DeliveryError, match="connection failed") as caught:
        channel(_free_port()).send(culprit_message())
    assert caught.value.retryable
