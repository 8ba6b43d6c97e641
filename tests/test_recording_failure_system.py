"""When recording what happened to an email fails (here a database constraint
refuses the update, standing for any bug or conflict at that step), on a real
Odoo server and a real SMTP server: the rest of the batch still goes out, the
email the server accepted is marked Sent and never sent again."""

import collections
import time

from conftest import _psql


def test_a_failure_to_record_one_email_stops_nothing_and_sends_nothing_twice(odoo_server_factory, smtp_server):
    server = odoo_server_factory()
    rpc = server.rpc
    # The update that records the SMTP server used for this one email fails.
    _psql(
        server.db,
        "ALTER TABLE mail_mail ADD CONSTRAINT rm_test_poison "
        "CHECK (NOT (body_html LIKE '%poison-pill%' AND smtp_server_id IS NOT NULL))",
    )
    mail_ids = rpc.execute_kw(
        "mail.mail",
        "create",
        [
            [
                {
                    "subject": f"Batch {n}",
                    "body_html": "<p>poison-pill</p>" if n == 2 else f"<p>Email {n}</p>",
                    "email_from": "jobs@agency.example.com",
                    "email_to": f"batch{n}@example.com",
                }
                for n in range(5)
            ]
        ],
    )
    server.run_mail_queue()
    smtp_server.wait_for(5, timeout=30)
    server.run_mail_queue()  # a second run must not send anything again
    time.sleep(1)

    received = collections.Counter(smtp_server.message_ids())
    assert len(received) == 5 and set(received.values()) == {1}, received
    mails = {m["subject"]: m for m in rpc.read("mail.mail", mail_ids, ["subject", "outbox_status", "attempt_count"])}
    assert {subject: m["outbox_status"] for subject, m in mails.items()} == {f"Batch {n}": "sent" for n in range(5)}
    assert mails["Batch 2"]["attempt_count"] == 1
    assert "recording the outcome of sending it failed" in server.log_text()
