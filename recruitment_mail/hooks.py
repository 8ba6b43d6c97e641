# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
import logging

from odoo import tools
from odoo.tools import sql

_logger = logging.getLogger(__name__)

# Stored computed columns of mail.mail created empty before the ORM sees them,
# so that a database with a million emails is not computed in one
# transaction at install: the post-init hook fills them in batches (backfill).
BACKFILLED_COLUMNS = {
    "outbox_status": "varchar",
    "mail_user_id": "int4",
    "is_system_mail": "bool",
    "recipients_display": "varchar",
}


def pre_init_hook(env):
    """Create the add-on's computed columns of mail_mail before the install
    computes them (filled in batches by post_init_hook), and its copy of the
    message's company in one statement."""
    cr = env.cr
    for name, column_type in BACKFILLED_COLUMNS.items():
        if not sql.column_exists(cr, "mail_mail", name):
            sql.create_column(cr, "mail_mail", name, column_type)
    if not sql.column_exists(cr, "mail_mail", "company_id"):
        sql.create_column(cr, "mail_mail", "company_id", "int4")
        cr.execute(
            """UPDATE mail_mail mm SET company_id = msg.record_company_id
                 FROM mail_message msg
                WHERE msg.id = mm.mail_message_id AND msg.record_company_id IS NOT NULL"""
        )


def post_init_hook(env):
    """Email sent before the install appears in the Outbox, Sent items and
    Email tabs like new email does. Odoo's queue cron, the one sending path,
    runs every minute instead of hourly and is woken as soon as mail becomes
    due (mail.mail._trigger_queue). Set here, once: an update of the add-on
    keeps the interval and active flag the administrator chose in Settings.
    Mail servers that existed before the install do not verify certificates."""
    cron = env.ref("mail.ir_cron_mail_scheduler_action", raise_if_not_found=False)
    if cron:
        cron.write({"interval_number": 1, "interval_type": "minutes", "active": True})
    # Outgoing mail servers configured before the install keep working as they
    # did (stock Odoo checks no certificate); new ones verify it (Verify the
    # server's certificate).
    env["ir.mail_server"].with_context(active_test=False).search([]).write({"smtp_verify_certificate": False})
    backfill(env)


def backfill(env, batch_size=5000):
    """Give mail that existed before the install its status, user and
    context (mail.mail._store_context), a batch at a time."""
    Mail = env["mail.mail"].sudo()
    env.cr.execute("SELECT id FROM mail_mail ORDER BY id")
    all_ids = [row[0] for row in env.cr.fetchall()]
    computed = [Mail._fields[name] for name in BACKFILLED_COLUMNS]
    for batch_ids in tools.split_every(batch_size, all_ids):
        mails = Mail.browse(batch_ids)
        for field in computed:
            env.add_to_compute(field, mails)
        mails._store_context()
        env.cr.execute(
            "UPDATE mail_mail SET date_sent = write_date WHERE state = 'sent' AND date_sent IS NULL AND id = ANY(%s)",
            (list(batch_ids),),
        )
        mails.flush_recordset()
        env.invalidate_all()
    _logger.info("Backfilled Outbox data of %s existing email(s)", len(all_ids))


def uninstall_hook(env):
    """Give the queue cron back its stock hourly interval. The crons of extra
    sending lanes belong to the add-on (their XML ids) and go with it."""
    cron = env.ref("mail.ir_cron_mail_scheduler_action", raise_if_not_found=False)
    if cron:
        cron.write({"interval_number": 1, "interval_type": "hours"})
