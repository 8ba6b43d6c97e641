# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
from datetime import timedelta

from odoo import Command, api, fields, models
from odoo.exceptions import UserError

from ..tools.notifications import success_notification

DEFAULT_INTERVAL_DAYS = 30


class RecruitmentJobsByEmail(models.TransientModel):
    """Jobs by Email: send a vacancy to candidates, now or later, at most
    once per interval per candidate unless the recruiter forces it."""

    _name = "recruitment.jobs.by.email"
    _description = "Send a vacancy by email"

    job_id = fields.Many2one("hr.job", "Vacancy", required=True, ondelete="cascade")
    candidate_source = fields.Selection(
        [("selection", "Candidates I choose"), ("matching", "Candidates matching the vacancy")],
        string="Send to",
        required=True,
        default="selection",
        help="Matching candidates share a tag with the vacancy, or applied to a vacancy of its department.",
    )
    candidate_ids = fields.Many2many("hr.candidate", compute="_compute_candidate_ids", store=True, readonly=False)
    template_id = fields.Many2one(
        "mail.template",
        required=True,
        domain="[('model', '=', 'hr.job')]",
        default=lambda self: self.env.ref("recruitment_mail.mail_template_new_vacancy", raise_if_not_found=False),
    )
    send_mode = fields.Selection(
        [("now", "Send now"), ("later", "Send later")], string="When", required=True, default="now"
    )
    scheduled_date = fields.Datetime("Send on")
    force = fields.Boolean(
        "Send again to candidates who recently received this vacancy",
        help="Without this, a candidate is not sent the same vacancy twice within the interval.",
    )
    interval_days = fields.Integer("Interval (days)", compute="_compute_interval_days")
    recipient_count = fields.Integer("Will receive it", compute="_compute_recipients")
    skipped_count = fields.Integer("Skipped", compute="_compute_recipients")
    skipped_summary = fields.Text("Skipped candidates", compute="_compute_recipients")

    @api.depends("candidate_source", "job_id")
    def _compute_candidate_ids(self):
        for wizard in self:
            if wizard.candidate_source == "matching" and wizard.job_id:
                wizard.candidate_ids = [Command.set(wizard._matching_candidates().ids)]
            elif wizard.candidate_source == "matching":
                wizard.candidate_ids = [Command.clear()]

    def _matching_candidates(self):
        """Candidates sharing a tag with the vacancy, or who applied to a
        vacancy of the same department."""
        job = self.job_id
        domain = []
        if job.candidate_tag_ids:
            domain = [("categ_ids", "in", job.candidate_tag_ids.ids)]
        if job.department_id:
            applied = (
                self.env["hr.applicant"]
                .with_context(active_test=False)
                .search([("department_id", "=", job.department_id.id)])
            )
            domain = (
                ["|", *domain, ("id", "in", applied.candidate_id.ids)]
                if domain
                else [("id", "in", applied.candidate_id.ids)]
            )
        return self.env["hr.candidate"].search(domain) if domain else self.env["hr.candidate"]

    def _compute_interval_days(self):
        days = self._get_interval_days()
        for wizard in self:
            wizard.interval_days = days

    def _get_interval_days(self):
        return int(
            self.env["ir.config_parameter"]
            .sudo()
            .get_param("recruitment_mail.job_email_interval_days", DEFAULT_INTERVAL_DAYS)
        )

    @api.depends("candidate_ids", "force", "job_id")
    def _compute_recipients(self):
        for wizard in self:
            kept, skipped = wizard._split_candidates()
            wizard.recipient_count = len(kept)
            wizard.skipped_count = len(skipped)
            wizard.skipped_summary = "\n".join(f"{candidate.display_name}: {reason}" for candidate, reason in skipped)

    def _split_candidates(self):
        """(candidates to send to, [(candidate, why skipped)])."""
        self.ensure_one()
        candidates = self.candidate_ids._origin
        recently = {} if self.force else self._recently_sent(candidates)
        kept = self.env["hr.candidate"]
        skipped = []
        for candidate in candidates:
            email = candidate.partner_id.email or candidate.email_from
            if not email:
                skipped.append((candidate, self.env._("no email address")))
            elif candidate.is_blacklisted:
                skipped.append((candidate, self.env._("blacklisted")))
            elif candidate.partner_id.bulk_mail_opt_out:
                skipped.append((candidate, self.env._("opted out of bulk email")))
            elif candidate.id in recently:
                skipped.append(
                    (
                        candidate,
                        self.env._(
                            "already sent this vacancy on %(date)s", date=fields.Date.to_string(recently[candidate.id])
                        ),
                    )
                )
            else:
                kept |= candidate
        return kept, skipped

    def _recently_sent(self, candidates):
        """{candidate id: date} of those sent this vacancy within the interval."""
        if not self.job_id or not candidates:
            return {}
        since = fields.Datetime.now() - timedelta(days=self._get_interval_days())
        mails = (
            self.env["mail.mail"]
            .sudo()
            .search_read(
                [
                    ("job_id", "=", self.job_id.id),
                    ("candidate_id", "in", candidates.ids),
                    ("create_date", ">=", since),
                    ("state", "not in", ("cancel", "exception")),
                ],
                ["candidate_id", "create_date"],
            )
        )
        return {mail["candidate_id"][0]: mail["create_date"] for mail in mails}

    def action_send(self):
        self.ensure_one()
        if self.send_mode == "later" and not self.scheduled_date:
            raise UserError(self.env._("Choose when to send the vacancy."))
        if self.template_id.model != "hr.job":
            raise UserError(self.env._("Choose a template for vacancies."))
        kept, skipped = self._split_candidates()
        if not kept:
            raise UserError(
                self.env._("No candidate will receive this vacancy.\n%(skipped)s", skipped=self.skipped_summary or "")
            )
        mails = self.env["mail.mail"].sudo().create([self._mail_values(candidate) for candidate in kept])
        when = self.scheduled_date if self.send_mode == "later" else False
        self.job_id.message_post(
            body=self.env._(
                "Vacancy sent by email to %(count)s candidate(s)%(when)s.",
                count=len(mails),
                when=self.env._(", scheduled for %(date)s", date=fields.Datetime.to_string(when)) if when else "",
            )
        )
        message = (
            self.env._("%(count)s email(s) scheduled.", count=len(mails))
            if when
            else self.env._("%(count)s email(s) queued.", count=len(mails))
        )
        if skipped:
            message += " " + self.env._(
                "%(count)s candidate(s) skipped: %(who)s",
                count=len(skipped),
                who="; ".join(f"{c.display_name} ({why})" for c, why in skipped),
            )
        return success_notification(message, {"type": "ir.actions.act_window_close"}, sticky=bool(skipped))

    def _mail_values(self, candidate):
        """One email: the template rendered on the vacancy, greeting the candidate."""
        template = self.template_id.with_context(candidate_name=candidate.partner_name or candidate.display_name)
        rendered = template._generate_template([self.job_id.id], ("subject", "body_html", "email_from"))[self.job_id.id]
        values = {
            "subject": rendered.get("subject"),
            "body_html": rendered.get("body_html"),
            "email_from": rendered.get("email_from") or self.env.user.email_formatted,
            "author_id": self.env.user.partner_id.id,
            "model": "hr.job",
            "res_id": self.job_id.id,
            "job_id": self.job_id.id,
            "candidate_id": candidate.id,
            "auto_delete": False,
            "scheduled_date": self.scheduled_date if self.send_mode == "later" else False,
        }
        if candidate.partner_id.email:
            values["recipient_ids"] = [Command.link(candidate.partner_id.id)]
        else:
            values["email_to"] = candidate.email_from
        return values
