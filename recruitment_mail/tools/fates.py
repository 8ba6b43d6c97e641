# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
"""What happened to each recipient address of an email (mail.mail.recipient_fates):
{address: [fate, server's reply]}."""

from .addresses import normalize_address
from .smtp_errors import smtp_reply_text

DELIVERED = "delivered"
DEFERRED = "deferred"  # refused for now (4xx): tried again
REFUSED = "refused"  # refused for good (5xx) or not an address: Resend tries again


def with_attempt(fates, delivered=(), refused=None, invalid=()):
    """``fates`` updated with one attempt: ``delivered`` addresses,
    ``refused`` {address: (code, reply)} and ``invalid`` [(address, reason)]
    that were not addresses at all."""
    fates = dict(fates or {})
    for address in delivered:
        fates[normalize_address(address)] = [DELIVERED, ""]
    for address, (code, reply) in (refused or {}).items():
        fates[normalize_address(address)] = [DEFERRED if 400 <= code < 500 else REFUSED, smtp_reply_text(code, reply)]
    for address, reason in invalid:
        fates[normalize_address(address)] = [REFUSED, reason]
    return fates


def undelivered(fates):
    """{address: (fate, reply)} of the recipients who did not get it."""
    return {address: tuple(fate) for address, fate in (fates or {}).items() if fate[0] != DELIVERED}


def delivered_only(fates):
    """The fates of those who got it: what Resend and dismissing keep."""
    return {address: fate for address, fate in (fates or {}).items() if fate[0] == DELIVERED}


def delivered_count(fates):
    return sum(1 for fate in (fates or {}).values() if fate[0] == DELIVERED)


def addresses_done(fates):
    """Addresses not to send to again: delivered, or refused for good
    (Resend clears those)."""
    return {address for address, fate in (fates or {}).items() if fate[0] != DEFERRED}


def any_deferred(fates):
    return any(fate[0] == DEFERRED for fate in undelivered(fates).values())


def with_bounced(fates, addresses, reason):
    """``fates`` where the ``addresses`` a bounce report names did not get it after all."""
    fates = dict(fates or {})
    for address in addresses:
        fates[normalize_address(address)] = [REFUSED, reason]
    return fates
