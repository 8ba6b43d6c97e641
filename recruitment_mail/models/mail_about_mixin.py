# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
from odoo import api, fields, models
from odoo.tools import SQL, formatLang


class RecruitmentMailAboutMixin(models.AbstractModel):
    """The emails of a record (contact, candidate, vacancy, placement): a
    list for its Email tab, a count for its smart button and an action that
    opens them. Searched as the current user, so record rules decide what
    each user sees."""

    _name = "recruitment.mail.about.mixin"
    _description = "Record with an Email tab"

    contact_mail_ids = fields.Many2many("mail.mail", string="Emails", compute="_compute_contact_mail_ids")
    contact_mail_count = fields.Integer(
        "Email count",
        compute="_compute_contact_mail_ids",
        help="How many emails, counted up to _contact_mail_count_limit.",
    )
    contact_mail_count_label = fields.Char("Emails counted", compute="_compute_contact_mail_ids")

    def _contact_mail_domain(self):
        """Domain of the emails shown for this record."""
        raise NotImplementedError

    def _contact_mail_query(self):
        """The current user's search (access rights and record rules
        applied) for the emails of _contact_mail_domain, unordered and
        unlimited. By default the domain's; a model may build it in a form
        PostgreSQL reads faster (_mail_query_by_ids)."""
        return self.env["mail.mail"]._search(self._contact_mail_domain())

    def _mail_query_by_ids(self, *id_selects, to_flush=()):
        """The current user's search for the emails whose ids the SQL
        ``id_selects`` return (SELECT statements of one column, on indexes
        ideally). PostgreSQL runs them once, into an array, and then looks
        each email up by id (mail_mail_rm_rules_idx carries what the record
        rules test, so without reading mail_mail itself); a domain on a
        many2many or an OR of conditions leaves the planner free to join or
        to filter the whole table instead. ``to_flush``: the fields they read."""
        Mail = self.env["mail.mail"]
        query = Mail._search([])
        query.add_where(
            SQL(
                "%s = ANY(ARRAY(%s))%s",
                SQL.identifier(query.table, "id"),
                SQL(" UNION ALL ").join(id_selects),
                SQL().join(SQL(to_flush=Mail._fields[name]) for name in to_flush),
            )
        )
        return query

    # Shown in the tab; the smart button opens them all.
    _contact_mail_tab_limit = 80
    # The smart button counts up to this many and then says "1,000+", as
    # Odoo's list pager does past its count limit: counting a contact's ten
    # thousand emails one by one through the record rules costs more than
    # the rest of the form.
    _contact_mail_count_limit = 1000

    @api.depends_context("uid")
    def _compute_contact_mail_ids(self):
        Mail = self.env["mail.mail"]
        limit = self._contact_mail_tab_limit
        for record in self:
            if not record.id:
                record.contact_mail_ids = Mail
                record.contact_mail_count = 0
                record.contact_mail_count_label = "0"
                continue
            newest = record._contact_mail_query()
            newest.order = SQL("%s DESC", SQL.identifier(newest.table, "id"))
            newest.limit = limit
            ids = newest.get_result_ids()
            record.contact_mail_ids = Mail.browse(ids)
            # fewer than a tabful: they are all there is
            count = len(ids)
            if count >= limit:
                counted = record._contact_mail_query()
                counted.limit = self._contact_mail_count_limit + 1
                count = len(counted)
            more = count > self._contact_mail_count_limit
            record.contact_mail_count = min(count, self._contact_mail_count_limit)
            label = formatLang(self.env, record.contact_mail_count, digits=0)
            record.contact_mail_count_label = f"{label}+" if more else label

    def action_open_contact_mail(self):
        self.ensure_one()
        return self._contact_mail_action()

    def _contact_mail_action(self):
        """The list the smart button opens: the emails of the tab, all of them."""
        action = self.env["ir.actions.actions"]._for_xml_id("recruitment_mail.mail_mail_action_contact")
        action["domain"] = self._contact_mail_domain()
        action["context"] = {}
        action["display_name"] = self.env._("Emails: %(name)s", name=self.display_name)
        return action
