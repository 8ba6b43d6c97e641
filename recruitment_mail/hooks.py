# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).


def uninstall_hook(env):
    """Give the queue cron back its stock hourly interval."""
    cron = env.ref("mail.ir_cron_mail_scheduler_action", raise_if_not_found=False)
    if cron:
        cron.write({"interval_number": 1, "interval_type": "hours"})
