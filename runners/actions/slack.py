"""`slack`: post a message to a Slack incoming webhook; success only on HTTP 200."""

from __future__ import annotations

from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict

from jobstream.events.documents.models import ActionStep
from jobstream.runners.actions.base import Action, ActionJob

__all__ = ["Slack", "SlackSettings", "SlackStep", "slack_payload"]

# Without a step timeout a webhook that never answers must not hold the stage for ever.
DEFAULT_TIMEOUT = 30.0


class SlackSettings(BaseModel):
    """`[actions.slack]`: the webhook of steps that give no `url` (formerly
    `slack_webhook_url`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    webhook_url: str | None = None


class SlackStep(ActionStep):
    """`url`: the webhook (else the `actions.slack.webhook_url` setting); `subject` is the
    text."""

    action: Literal["slack"]
    subject: str
    message: str | None = None
    color: str = "good"
    url: str | None = None


def slack_payload(subject: str, message: str | None, color: str, job: ActionJob) -> dict[str, Any]:
    """Cyclid's message: the subject as text, one attachment with the message and the job."""
    information = (
        "".join(
            f"{title}: {job.context.get(key, '')}\n"
            for title, key in (("Job ID", "job_id"), ("Job name", "job_name"))
        )
        + f"Organization: {job.context.get('organization', '')}\n"
    )
    fields: list[dict[str, Any]] = []
    if message is not None:
        fields.append({"title": "Message", "value": message})
    fields.append({"title": "Information", "value": information, "short": False})
    return {
        "text": subject,
        "username": "jobstream",
        "attachments": [{"fallback": message or subject, "color": color, "fields": fields}],
    }


class Slack(Action[SlackStep]):
    step = SlackStep
    settings_model = SlackSettings

    async def run(self, step: SlackStep, job: ActionJob) -> str | None:
        configured = job.settings.section("slack", SlackSettings).webhook_url
        url = job.interpolate(step.url) if step.url else configured
        if not url:
            return "no webhook URL given (the step's url, or the actions.slack.webhook_url setting)"
        message = job.interpolate(step.message) if step.message is not None else None
        payload = slack_payload(job.interpolate(step.subject), message, step.color, job)
        try:
            async with httpx.AsyncClient(timeout=step.timeout or DEFAULT_TIMEOUT) as client:
                response = await client.post(url, json=payload)
        except httpx.HTTPError as error:
            return f"cannot post to the Slack webhook: {error or type(error).__name__}"
        if response.status_code != 200:
            return f"the Slack webhook answered HTTP {response.status_code}"
        await job.log("Slack notification sent")
        return None
