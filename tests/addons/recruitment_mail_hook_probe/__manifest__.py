# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
{
    "name": "Recruitment Mail: hook probe (tests only)",
    "summary": "Another module's build and _send hooks, for the system tests of recruitment_mail",
    "version": "18.0.1.0.0",
    "author": "recruitment_mail developers",
    "license": "LGPL-3",
    # Not on recruitment_mail: loaded before it, as mail_tracking is, so that
    # its _send override sits below the add-on's class in the MRO.
    "depends": ["mail"],
    "data": ["security/ir.model.access.csv"],
    "installable": True,
}
