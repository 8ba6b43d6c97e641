# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
{
    "name": "Recruitment Mail",
    "summary": "Outbox and Sent items for a recruitment agency's outgoing email",
    "version": "18.0.1.0.0",
    "category": "Human Resources/Recruitment",
    "author": "recruitment_mail developers",
    "license": "LGPL-3",
    "depends": ["mail", "contacts", "hr_recruitment"],
    "external_dependencies": {"python": ["email_validator", "flufl.bounce"]},
    "data": [
        "security/recruitment_mail_security.xml",
        "security/ir.model.access.csv",
        "data/ir_cron_data.xml",
        "data/mail_template_data.xml",
        "views/mail_mail_views.xml",
        "views/res_partner_views.xml",
        "views/hr_candidate_views.xml",
        "views/hr_job_views.xml",
        "views/hr_applicant_views.xml",
        "views/ir_mail_server_views.xml",
        "views/res_config_settings_views.xml",
        "wizards/jobs_by_email_views.xml",
        "wizards/mail_reschedule_views.xml",
        "wizards/mail_compose_message_views.xml",
        "views/menus.xml",
    ],
    "assets": {
        "web.assets_tests": [
            "recruitment_mail/static/tests/tours/*.js",
        ],
    },
    "demo": [
        "demo/recruitment_mail_demo.xml",
    ],
    "application": True,
    "post_init_hook": "post_init_hook",
    "uninstall_hook": "uninstall_hook",
}
