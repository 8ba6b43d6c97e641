# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
"""XML ids renamed the OCA way (<model>_view_<type>[_<purpose>], <model>_action_<purpose>).

Renamed before the data files load, so that each record keeps its database id:
the Outbox and Sent items actions keep their path (/odoo/outbox, /odoo/sent-items,
unique per action, so a second action could not take it while the first still
exists), and users' favourites and bookmarks keep pointing at them. Of two
inheriting views now merged into one, the first takes the new id; the second
keeps its old id and is removed at the end of the update like any record the
data files no longer define.
"""

RENAMED_XMLIDS = [
    ("view_mail_outbox_list", "mail_mail_view_tree_outbox"),
    ("view_mail_outbox_kanban", "mail_mail_view_kanban_outbox"),
    ("view_mail_outbox_form", "mail_mail_view_form_outbox"),
    ("view_mail_outbox_search", "mail_mail_view_search_outbox"),
    ("action_outbox", "mail_mail_action_outbox"),
    ("view_mail_sent_list", "mail_mail_view_tree_sent"),
    ("view_mail_sent_search", "mail_mail_view_search_sent"),
    ("action_sent_items", "mail_mail_action_sent"),
    ("view_mail_contact_list", "mail_mail_view_tree_contact"),
    ("action_contact_mail", "mail_mail_action_contact"),
    ("view_partner_form_emails", "res_partner_view_form"),  # view_partner_form_opt_out merged into it
    ("hr_candidate_view_form_emails", "hr_candidate_view_form"),  # hr_candidate_view_form_opt_out merged
    ("view_hr_job_form_emails", "hr_job_view_form"),  # view_hr_job_form_jobs_by_email merged into it
    ("hr_applicant_view_form_emails", "hr_applicant_view_form"),
    ("ir_mail_server_form_limits", "ir_mail_server_view_form"),
    ("action_recruitment_mail_settings", "res_config_settings_action"),
    ("view_jobs_by_email_form", "recruitment_jobs_by_email_view_form"),
    ("view_mail_reschedule_form", "recruitment_mail_reschedule_view_form"),
    ("mail_compose_message_form_send_later", "mail_compose_message_view_form"),
    ("action_candidate_mass_mail", "mail_compose_message_action_candidate"),
]


def migrate(cr, version):
    if not version:
        return
    for old, new in RENAMED_XMLIDS:
        cr.execute(
            """
            UPDATE ir_model_data SET name = %(new)s
             WHERE module = 'recruitment_mail' AND name = %(old)s
               AND NOT EXISTS (SELECT 1 FROM ir_model_data WHERE module = 'recruitment_mail' AND name = %(new)s)
            """,
            {"old": old, "new": new},
        )
