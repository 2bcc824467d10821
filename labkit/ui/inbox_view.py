"""The e-mail a subscriber received, as a small mail client: one entry per message, newest last.

    view = InboxView("you@example.com")
    view                          # shows it; Refresh reads the inbox again
    view.mails                    # the messages shown, as labkit.inbox.inbox() returns them

On the aws target SNS sends real e-mail to the address, which labkit cannot read: the view says so and shows what
was published instead, the delivery function's log lines about the mail and SNS's NumberOfNotificationsDelivered.
"""
from __future__ import annotations

import html

import ipywidgets as w

from ..config import NAMES, settings
from ..errors import LabError
from ..inbox import inbox
from ..resources import functions, topics


class InboxView:
    """Recipient, Refresh, a count, and each message's subject, time and body."""

    def __init__(self, to: str, topic: str = NAMES.topic):
        self.to, self.topic = to, topic
        self.refresh_button = w.Button(description="Refresh", icon="refresh")
        self.message = w.HTML()
        self.list = w.Accordion()
        self.widget = w.VBox([w.HBox([w.HTML(f"<b>Inbox of {html.escape(to)}</b>"), self.refresh_button]),
                              self.message, self.list])
        self.mails: list[dict] = []
        self.refresh_button.on_click(lambda _: self.refresh())
        self.refresh()

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def refresh(self) -> None:
        """Read the inbox again (aws target: the function's log and SNS's delivery count again)."""
        if not settings().is_local:
            self._show_published()
            return
        try:
            self.mails = inbox(to=self.to, topic=self.topic)
        except LabError as error:
            self.message.value = f'<span style="color:#8a1c13">✗ {html.escape(str(error))}</span>'
            return
        self.message.value = f"{len(self.mails)} message(s) from topic {html.escape(self.topic)}"
        self.list.children = [
            w.HTML(f"<pre style='white-space:pre-wrap;margin:0'>{html.escape(mail['body'])}</pre>")
            for mail in self.mails]
        for index, mail in enumerate(self.mails):
            first_line = (mail["body"].strip().splitlines() or [""])[0]
            self.list.set_title(index, f"{mail['time'][11:19]} UTC · {mail['subject']} · {first_line[:80]}")
        self.list.selected_index = 0 if self.mails else None

    def _show_published(self) -> None:
        """The aws target: where the mail goes, and what the delivery function published (its log, SNS's count)."""
        function = NAMES.delivery_function
        try:
            lines = [line.strip() for line in functions.logs(function, limit=10_000)
                     if "mailed the anomaly at" in line or "anomaly events" in line]
            delivered = topics.deliveries(self.topic)
        except LabError as error:
            self.message.value = f'<span style="color:#8a1c13">✗ {html.escape(str(error))}</span>'
            return
        sns = ("SNS has not reported deliveries in the last hour yet (CloudWatch shows them a few minutes later)"
               if delivered is None else f"SNS reports {delivered} notification(s) delivered in the last hour")
        self.message.value = (
            f"On AWS, SNS sends the e-mail of topic {html.escape(self.topic)} to {html.escape(self.to)}: open that "
            f"mailbox. What {function} published (its CloudWatch log, last hour): {len(lines)} line(s). "
            f"{html.escape(sns)}. <b>Refresh</b> reads both again.")
        self.list.children = [w.HTML(f"<pre style='white-space:pre-wrap;margin:0'>{html.escape(chr(10).join(lines))}"
                                     "</pre>")]
        self.list.set_title(0, f"{function} log · {len(lines)} line(s) about the mail")
        self.list.selected_index = 0
