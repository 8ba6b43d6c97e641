"""Prepare a freshly installed database (stock or ours) for the benchmarks.

Run once per template database by bench/run.sh, so that the queue and list
databases copied from it have the same people in both setups:

* the 20 authors of the agency's mail: the administrator and 19 recruitment
  officers (group hr_recruitment.group_hr_recruitment_user, which in ours
  implies "See everyone's mail"), each with a partner and an address;
* one outgoing mail server, "Bench SMTP sink", pointed at the right port by
  queue_worker.py before each run.

Everything is created through the ORM, as an administrator would.
"""

from __future__ import annotations

import argparse

from benchlib import emit, odoo_env

OFFICERS = 19
MAIL_SERVER_NAME = "Bench SMTP sink"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", required=True)
    parser.add_argument("--odoo-log", required=True)
    args = parser.parse_args()

    with odoo_env(args.db, args.odoo_log) as env:
        env = env(context={"no_reset_password": True, "mail_create_nosubscribe": True, "tracking_disable": True})
        admin = env.ref("base.user_admin")
        admin.partner_id.write({"email": "admin@agency.example.com"})
        env.company.write({"name": "Bench Agency", "email": "jobs@agency.example.com"})
        officer_group = env.ref("hr_recruitment.group_hr_recruitment_user")
        users = env["res.users"].create(
            [
                {
                    "name": f"Recruiter {n:02d}",
                    "login": f"bench_recruiter_{n:02d}",
                    "email": f"recruiter{n:02d}@agency.example.com",
                    "groups_id": [(6, 0, [env.ref("base.group_user").id, officer_group.id])],
                }
                for n in range(1, OFFICERS + 1)
            ]
        )
        server = env["ir.mail_server"].create(
            {
                "name": MAIL_SERVER_NAME,
                "smtp_host": "127.0.0.1",
                "smtp_port": 25,
                "smtp_encryption": "none",
                "sequence": 1,
            }
        )
        env.cr.commit()
        emit({"admin": admin.id, "officers": users.ids, "mail_server": server.id})


if __name__ == "__main__":
    main()
