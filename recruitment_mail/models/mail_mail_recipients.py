# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
"""Whom a mail goes to: what is checked before anything reaches SMTP, and
the addresses as they are handed over (ASCII domains, one-line subjects)."""

from odoo import models

from ..tools.addresses import (
    address_of,
    address_syntax_error,
    ascii_address,
    ascii_formatted,
    has_line_break,
    is_lone_quoted_name,
    one_line,
    raw_address_tokens,
    sendable_addresses,
)


class MailMail(models.Model):
    _inherit = "mail.mail"

    def _prepare_outgoing_list(self, mail_server=False, recipients_follower_status=None):
        # A line break in a header would split it (header injection): a
        # subject is folded onto one line; addresses are refused earlier.
        emails = super()._prepare_outgoing_list(
            mail_server=mail_server, recipients_follower_status=recipients_follower_status
        )
        for email in emails:
            if email.get("subject"):
                email["subject"] = one_line(email["subject"])
            for key in ("email_to", "email_cc"):
                email[key] = [ascii_formatted(formatted) for formatted in email.get(key) or []]
            email["email_to_normalized"] = [ascii_address(a) for a in email.get("email_to_normalized") or []]
        return emails

    def _header_problem(self):
        """Return (failure_type, message) when an address field would forge
        email headers, checked before anything is built or handed to the SMTP
        server so that a mail to several people never reaches only some of them."""
        self.ensure_one()
        # One address per line is fine in To and Cc; a line break inside an
        # address or a name, or anywhere in From and Reply-To, is not.
        for label, value, one_per_line in (
            (self.env._("To"), self.email_to, True),
            (self.env._("Cc"), self.email_cc, True),
            (self.env._("From"), self.email_from, False),
            (self.env._("Reply-To"), self.reply_to, False),
        ):
            broken = any(has_line_break(token) for token in raw_address_tokens(value))
            if broken or (not one_per_line and has_line_break((value or "").strip())):
                return "mail_email_invalid", self.env._(
                    "The %(field)s field contains a line break, which could forge email headers "
                    "(header injection). Correct it, then resend.",
                    field=label,
                )
        return None

    def _no_recipient_problem(self):
        """Return (failure_type, message) when this mail has no address Odoo
        can send to, saying which address and why. Such a mail is built and
        handed to send_email as in stock, which refuses it before anything
        goes over the wire (NO_VALID_RECIPIENT); the reason is recorded."""
        self.ensure_one()
        unsendable = self._unsendable_addresses()
        if self._sendable_addresses():
            # as stock: sent to the valid ones; the others' fate is kept on the mail
            return None
        if unsendable:
            missing = all(not partner.email for partner in self.recipient_ids) and not (self.email_to or self.email_cc)
            return (
                "mail_email_missing" if missing else "mail_email_invalid",
                "\n".join(reason for _address, reason in unsendable),
            )
        return "mail_email_missing", self.env._("This email has no recipient.")

    def _sendable_addresses(self):
        """The addresses Odoo sends this mail to, as stock works them out."""
        addresses = sendable_addresses(f"{self.email_to or ''},{self.email_cc or ''}")
        for partner in self.recipient_ids:
            addresses += sendable_addresses(partner.email or "")
        return addresses

    def _unsendable_addresses(self):
        """[(address, reason)] of the To, Cc and recipient addresses that are
        not email addresses: stock Odoo leaves them out without a word; here
        the reason is kept on the mail."""
        found = []
        for token in raw_address_tokens(self.email_to) + raw_address_tokens(self.email_cc):
            if not sendable_addresses(token) and not is_lone_quoted_name(token):
                found.append((token, self._address_error_message(token)))
        for partner in self.recipient_ids:
            if not partner.email:
                found.append(
                    (
                        partner.display_name,
                        self.env._(
                            "No email address for the recipient %(name)s. Add one on the contact, then resend.",
                            name=partner.display_name,
                        ),
                    )
                )
            elif not sendable_addresses(partner.email):
                found.append((partner.email, self._address_error_message(partner.email)))
        return found

    def _address_error_message(self, token):
        address = address_of(token)
        error = address_syntax_error(address) or self.env._("It is not an email address.")
        return self.env._("Address syntax error: '%(address)s'. %(reason)s", address=address, reason=error)
