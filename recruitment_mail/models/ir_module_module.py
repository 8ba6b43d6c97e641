# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
import logging
import time

import psycopg2

from odoo import models

from .mail_mail_queue import MODULE_OPERATION_LOCK

_logger = logging.getLogger(__name__)

# How long an administrator's install, upgrade or uninstall waits for running
# crons: well inside the request's time limit (limit_time_real, 120 s).
MODULE_OPERATION_WAIT = 30


class IrModuleModule(models.Model):
    _inherit = "ir.module.module"

    def _button_immediate_function(self, function):
        """Stock Odoo refuses a module operation at once while any cron runs
        ("Odoo is currently processing a scheduled action"). While it drains a
        backlog the mail queue runs back to back, so an administrator would be
        refused again and again: ask the queue to yield (it stops within about
        a second, see mail.mail._queue_run_must_stop) and wait for the crons
        running now to end, up to MODULE_OPERATION_WAIT seconds. Then stock's
        own check runs, and refuses as before if a cron still runs."""
        cr = self.env.cr
        cr.execute("SELECT pg_advisory_xact_lock(%s)", (MODULE_OPERATION_LOCK,))
        give_up = time.monotonic() + MODULE_OPERATION_WAIT
        while True:
            try:
                # row locks taken here are kept: stock's NOWAIT below finds them ours
                with cr.savepoint(flush=False):
                    cr.execute("SELECT id FROM ir_cron FOR UPDATE NOWAIT", log_exceptions=False)
                break
            except psycopg2.errors.LockNotAvailable:
                if time.monotonic() > give_up:
                    _logger.info("Module operation: a cron still runs after %ss", MODULE_OPERATION_WAIT)
                    break
                time.sleep(0.5)
        return super()._button_immediate_function(function)
