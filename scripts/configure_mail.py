"""Point a database's outgoing mail at the configured SMTP server.

Run by scripts/run.sh through `odoo shell` (which provides `env` and rolls
back unless we commit). Settings come from environment variables so that the
password never shows on a command line:

    RM_MAIL_SERVER_NAME   record name ("Local SMTP sink" or "SMTP server")
    RM_SMTP_HOST, RM_SMTP_PORT, RM_SMTP_USER, RM_SMTP_PASSWORD,
    RM_SMTP_ENCRYPTION    none | starttls | ssl
    RM_SMTP_FROM_FILTER   optional ir.mail_server.from_filter

Our record gets sequence 1 so Odoo picks it first; the other record this
script manages (sink vs. real server) is archived so only one is in use.
"""

import os

MANAGED_NAMES = ("Local SMTP sink", "SMTP server")

name = os.environ.get("RM_MAIL_SERVER_NAME", "Local SMTP sink")
values = {
    "name": name,
    "smtp_host": os.environ.get("RM_SMTP_HOST", "127.0.0.1"),
    "smtp_port": int(os.environ.get("RM_SMTP_PORT", "2525")),
    "smtp_user": os.environ.get("RM_SMTP_USER") or False,
    "smtp_pass": os.environ.get("RM_SMTP_PASSWORD") or False,
    "smtp_encryption": os.environ.get("RM_SMTP_ENCRYPTION") or "none",
    "smtp_authentication": "login",
    "from_filter": os.environ.get("RM_SMTP_FROM_FILTER") or False,
    "sequence": 1,
    "active": True,
}

MailServer = env["ir.mail_server"].sudo().with_context(active_test=False)  # noqa: F821 (odoo shell)
server = MailServer.search([("name", "=", name)], limit=1)
if server:
    server.write(values)
else:
    server = MailServer.create(values)
MailServer.search([("name", "in", [n for n in MANAGED_NAMES if n != name]), ("active", "=", True)]).write(
    {"active": False}
)
env.cr.commit()  # noqa: F821
print(
    f"Outgoing mail server #{server.id} {name!r}: {values['smtp_host']}:{values['smtp_port']}"
    f" encryption={values['smtp_encryption']} user={values['smtp_user'] or '-'}"
)
