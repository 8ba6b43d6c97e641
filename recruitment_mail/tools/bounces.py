# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
"""Delivery failure reports (DSN) as recipients' mail servers send them back."""

from email.message import Message

from flufl.bounce import all_failures


def bounced_addresses(email_message, bounced_email=None):
    """The addresses a report says could not be delivered to for good, sorted;
    [] for a report of a temporary delay only. Stock's bounce handling is also
    called with no message at all (mass_mailing passes False) or one without
    a report: then ``bounced_email``, the address stock worked out, if any."""
    is_message = isinstance(email_message, Message)
    temporary, permanent = all_failures(email_message) if is_message else (set(), set())
    bounced = sorted(
        address.decode("utf-8", "replace") if isinstance(address, bytes) else address for address in permanent
    )
    if not bounced and bounced_email and not temporary:
        bounced = [bounced_email]
    return bounced


def bounce_detail(email_message):
    """The server's own words from the report: its Diagnostic-Code, or ''."""
    if not isinstance(email_message, Message):
        return ""
    for part in email_message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        for block in part.get_payload() if part.is_multipart() else []:
            diagnostic = block.get("Diagnostic-Code")
            if diagnostic:
                return " ".join(str(diagnostic).split(";", 1)[-1].split())
    return ""
