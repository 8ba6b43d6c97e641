# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
"""Email addresses as users type them and as Odoo sends them."""

import re

from email_validator import EmailNotValidError, validate_email

from odoo import tools

# Splits a To/Cc field on commas, semicolons and line ends that are outside
# quotes and angle brackets: email.utils.getaddresses() silently rewrites malformed
# addresses ("bob@@x.com" becomes "@x.com"), which would hide the very
# mistake the user has to see.
_ADDRESS_TOKEN = re.compile(r'(?:"[^"]*"|<[^>]*>|[^,;"<\r\n]+)+')
_ANGLE_ADDR = re.compile(r"<([^>]*)>\s*$")
_LINE_BREAK = re.compile(r"[\r\n]")
_QUOTED_NAME = re.compile(r'"[^"]*"')


def raw_address_tokens(value):
    """The entries of a To/Cc header value exactly as typed, names included."""
    return [token.strip() for token in _ADDRESS_TOKEN.findall(value or "") if token.strip()]


def address_of(token):
    """The address of one entry: what is inside <...>, else the entry itself."""
    angle = _ANGLE_ADDR.search(token)
    return (angle.group(1) if angle else token).strip()


def split_raw_addresses(value):
    """Return the addresses of a To/Cc header value exactly as typed."""
    return [address for address in map(address_of, raw_address_tokens(value)) if address]


def has_line_break(value):
    return bool(value and _LINE_BREAK.search(value))


def is_lone_quoted_name(token):
    """'"Customer"': what is left of a name whose address lost its '>'."""
    return bool(_QUOTED_NAME.fullmatch(token))


def one_line(text):
    """``text`` folded onto one line (a header must not carry a line break)."""
    return " ".join(text.split()) if has_line_break(text) else text


def address_syntax_error(address):
    """Explain what is wrong with one address, or return None when it is valid."""
    try:
        valid = validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        return str(exc)
    if valid.ascii_email is None:
        # Odoo hands SMTP only ASCII addresses (no SMTPUTF8); a domain is
        # converted (ascii_address), a local part cannot be.
        return "It has non-ASCII characters before the @-sign: only a mail server with SMTPUTF8 takes it."
    return None


def ascii_address(address):
    """The address with an internationalised domain in its ASCII (IDNA)
    form, which SMTP servers and Odoo accept: lea@exämple.fr is sent as
    lea@xn--exmple-cua.fr."""
    if address.isascii():
        return address
    try:
        return validate_email(address, check_deliverability=False).ascii_email or address
    except EmailNotValidError:
        return address


def ascii_formatted(formatted):
    """A formatted 'Name <address>' list with each domain in ASCII form."""
    if formatted.isascii():
        return formatted
    return ", ".join(
        tools.formataddr((name, ascii_address(address))) for name, address in tools.mail.email_split_tuples(formatted)
    )


def sendable_addresses(value):
    """The addresses of ``value`` (To, Cc, a contact's email) that Odoo sends
    to: as stock normalises them, less what that leaves of a broken address
    ("tom@@example.com" gives "@example.com", which no server takes)."""
    return [address for address in tools.email_normalize_all(value or "") if address.rpartition("@")[0]]


def has_local_part(address):
    return bool(address.rpartition("@")[0])


def normalize_address(address):
    """The form an address is kept in (recipient fates): as Odoo normalises
    it, or as typed when that would hide the mistake ("tom@@x.com" is not "@x.com")."""
    normalized = tools.email_normalize(address)
    return normalized if normalized and has_local_part(normalized) else (address or "").strip().lower()
