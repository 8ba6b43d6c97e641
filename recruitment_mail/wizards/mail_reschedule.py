# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
from odoo import api, fields, models
from odoo.exceptions import UserError


class RecruitmentMailReschedule(models.TransientModel):
    _name = "recruitment.mail.reschedule"
    _description = "Reschedule emails"

    mail_ids = fields.Many2many("mail.mail", string="Emails")
    scheduled_date = fields.Datetime("Send on", required=True)

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        if "mail_ids" in fields_list and self.env.context.get("active_model") == "mail.mail":
            values["mail_ids"] = [(6, 0, self.env.context.get("active_ids", []))]
        return values

    def action_reschedule(self):
        self.ensure_one()
        # Every email named, also those the user may not read (which reading
        # mail_ids as the user would silently leave out): checked, then changed.
        mails = self.sudo().mail_ids.with_env(self.env)
        mails._check_can_act(self.env._("reschedule these emails"))
        not_waiting = mails.filtered(lambda mail: mail.state != "outgoing")
        if not_waiting:
            raise UserError(
                self.env._("Only queued or scheduled emails can be rescheduled; resend failed emails instead.")
            )
        mails.sudo().write({"scheduled_date": self.scheduled_date})
        return {"type": "ir.actions.act_window_close"}
