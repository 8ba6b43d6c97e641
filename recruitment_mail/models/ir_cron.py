# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
import threading
import time

from odoo import models


class IrCron(models.Model):
    _inherit = "ir.cron"

    @classmethod
    def _run_job(cls, job):
        """Note when this job's run began. Odoo holds the job's row lock for
        the whole run (up to ten calls of its action), and while any cron row
        is locked an administrator cannot install or upgrade a module; Odoo 18
        gives an action no other way to know how long its run has lasted.
        Long actions (the mail queue) end in time by reading it."""
        thread = threading.current_thread()
        thread.cron_job_started = time.time()
        try:
            return super()._run_job(job)
        finally:
            thread.cron_job_started = None
