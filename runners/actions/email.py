"""`email`: send a message through the SMTP server of the settings (`[actions.email]`)."""

from __future__ import annotations

import asyncio
import html
import smtplib
import ssl
from email.message import EmailMessage
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from jobstream.events.documents.models import ActionStep
from jobstream.runners.actions.base import Action, ActionJob

__all__ = ["Email", "EmailSettings", "EmailStep", "email_message"]

DEFAULT_TIMEOUT = 30.0


class EmailSettings(BaseModel):
    """`[actions.email]`: the SMTP server of `email` steps (formerly `smtp_host`,
    `smtp_port`, `smtp_from`, `smtp_user`, `smtp_password`, `smtp_starttls`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "localhost"
    port: int = Field(587, ge=1, le=65535)  # Cyclid's default
    sender: str = "jobstream@localhost"
    user: str | None = None  # log in when set
    password: SecretStr | None = None
    starttls: bool | None = None  # None: when the server offers it; True: required


class EmailStep(ActionStep):
    """`to` and `message` are required, as in Cyclid; `color` heads the HTML part."""

    action: Literal["email"]
    to: str
    message: str
    subject: str = "Cyclid notification"
    color: str = "dodgerblue"


def email_message(
    sender: str, to: str, subject: str, message: str, color: str, job: ActionJob
) -> EmailMessage:
    """A text and an HTML part, like Cyclid's, but without its list of the whole context:
    that held every decrypted secret."""
    facts = [
        ("Job ID", job.context.get("job_id", "")),
        ("Job name", job.context.get("job_name", "")),
        ("Organization", job.context.get("organization", "")),
    ]
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = sender, to, subject
    text = "".join(f"{title}: {value}\n" for title, value in facts)
    mail.set_content(f"{text}\n{message}\n")
    rows = "".join(f"<tr><th>{html.escape(t)}</th><td>{html.escape(v)}</td></tr>" for t, v in facts)
    mail.add_alternative(
        f'<html><body><div style="background-color: {html.escape(color)}; padding: 8px">'
        f"<h2>{html.escape(subject)}</h2></div><table>{rows}</table>"
        f"<p>{html.escape(message)}</p></body></html>",
        subtype="html",
    )
    return mail


def _send(settings: EmailSettings, mail: EmailMessage, timeout: float) -> None:
    with smtplib.SMTP(settings.host, settings.port, timeout=timeout) as smtp:
        smtp.ehlo()
        # None: STARTTLS when the server offers it (what Cyclid's mail library did).
        starttls = settings.starttls
        if starttls or (starttls is None and smtp.has_extn("starttls")):
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if settings.user:
            password = settings.password.get_secret_value() if settings.password else ""
            smtp.login(settings.user, password)
        smtp.send_message(mail)


class Email(Action[EmailStep]):
    step = EmailStep
    settings_model = EmailSettings

    async def run(self, step: EmailStep, job: ActionJob) -> str | None:
        settings = job.settings.section("email", EmailSettings)
        to = job.interpolate(step.to)
        mail = email_message(
            settings.sender,
            to,
            job.interpolate(step.subject),
            job.interpolate(step.message),
            step.color,
            job,
        )
        await job.log(f"sending email to {to}")
        try:
            await asyncio.to_thread(_send, settings, mail, step.timeout or DEFAULT_TIMEOUT)
        except (OSError, smtplib.SMTPException) as error:
            where = f"{settings.host}:{settings.port}"
            return f"cannot send the email through {where}: {_without_password(error, settings)}"
        return None


def _without_password(error: Exception, settings: EmailSettings) -> str:
    # A server may echo what it was sent; the password never reaches the log.
    text = str(error) or type(error).__name__
    if settings.password and (secret := settings.password.get_secret_value()):
        text = text.replace(secret, "***")
    return text
