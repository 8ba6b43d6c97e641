# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).


def post_init_hook(env):
    """Email sent before the install appears in the Outbox, Sent items and
    Email tabs like new email does."""
    env["mail.mail"]._backfill()


def uninstall_hook(env):
    """Give the queue cron back its stock hourly interval. The crons of extra
    sending lanes belong to the add-on (their XML ids) and go with it."""
    cron = env.ref("mail.ir_cron_mail_scheduler_action", raise_if_not_found=False)
    if cron:
        cron.write({"interval_number": 1, "interval_type": "hours"})
