# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).


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
    env["mail.mail"]._backfill()


def uninstall_hook(env):
    """Give the queue cron back its stock hourly interval. The crons of extra
    sending lanes belong to the add-on (their XML ids) and go with it."""
    cron = env.ref("mail.ir_cron_mail_scheduler_action", raise_if_not_found=False)
    if cron:
        cron.write({"interval_number": 1, "interval_type": "hours"})
