# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
"""send_stream: smtp_pipeline's PIPELINING for a queue run that hands over
messages as it builds them and records each outcome before the next message
is complete. Standard library only: no Odoo."""

from __future__ import annotations

from .smtp_pipeline import _CONNECTION_ERRORS, _PipelinedSender, _Sender, _StepSender, _Transaction, _unwrap

__all__ = ["send_stream"]


def send_stream(smtp, take, on_outcome) -> None:
    """Send envelopes over ``smtp`` as ``take`` gives them, until it gives
    None when asked to wait, and pass each one's :class:`Outcome` to
    ``on_outcome`` as soon as it is known.

    ``take(wait)`` returns the next envelope, or None: with ``wait`` False
    when none is ready now (the message in hand then goes alone), with
    ``wait`` True when there are no more. ``on_outcome`` is called before
    any later envelope's end of data is written, so a caller that records
    each outcome inside it (and only then returns) never has more than one
    message accepted by the server and not recorded. With PIPELINING an
    envelope's commands are written with the previous message's data (about
    one round trip each); without it, one command at a time. A lost
    connection gives every envelope taken and not answered its error, then
    returns; envelopes not taken stay the caller's."""
    smtp = _unwrap(smtp)
    sender = _Sender(smtp, [])
    try:
        smtp.ehlo_or_helo_if_needed()
        if smtp.has_extn("pipelining"):
            sender = _StreamSender(smtp, take, on_outcome)
            sender.run()
            return
        while True:
            envelope = take(True)
            if envelope is None:
                return
            sender = _StepSender(smtp, [envelope])
            sender.run()
            on_outcome(sender.outcomes[0])
    except _CONNECTION_ERRORS as exc:
        sender.connection_lost(exc)
        if not isinstance(sender, _StreamSender):
            for outcome in sender.outcomes:
                on_outcome(outcome)
    except BaseException:
        smtp.close()
        raise


class _StreamSender(_PipelinedSender):
    """_PipelinedSender over the envelopes ``take`` gives as it goes, each
    outcome passed on (``on_outcome``) as soon as it is known."""

    def __init__(self, smtp, take, on_outcome):
        super().__init__(smtp, [])
        self.take = take
        self.on_outcome = on_outcome
        self.idle = True  # nothing is in flight: take() may wait
        self.ended = False

    def prepare_next(self) -> _Transaction | None:
        while True:
            if self.position >= len(self.envelopes):
                wait, self.idle = self.idle, False
                envelope = self.take(wait)
                if envelope is None:
                    self.ended = self.ended or wait
                    return None
                self.envelopes.append(envelope)
                self.outcomes.append(None)
            transaction = super().prepare_next()
            if transaction is not None:
                return transaction
            # that envelope failed before anything was written for it: the next one

    def run(self) -> None:
        result = None
        while not self.ended:
            self.idle = True
            result = super().run()
        return result

    def done(self, index: int, accepted=(), refused=None, error=None, in_doubt=False) -> None:
        first = self.outcomes[index] is None
        result = super().done(index, accepted, refused, error, in_doubt)
        if first:
            self.on_outcome(self.outcomes[index])
        return result
