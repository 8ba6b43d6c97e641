"""Parallel sending, end to end: three sending lanes on a real Odoo server
with three cron workers and a real SMTP server. Every email arrives exactly
once, and every lane sends its share."""

import collections
import time

COUNT = 300
LANES = 3


def test_three_lanes_send_the_queue_side_by_side_each_email_once(odoo_server_factory, smtp_server):
    server = odoo_server_factory(extra_args=(f"--max-cron-threads={LANES + 1}",))
    rpc = server.rpc
    web = server.web_session()
    settings = web.call_kw("res.config.settings", "create", [{"recruitment_mail_sending_lanes": LANES}])
    web.call_button("res.config.settings", "execute", [settings])
    crons = rpc.search_read(
        "ir.cron", [("code", "like", "recruitment_mail_lane=")], ["name", "interval_number", "active"]
    )
    assert len(crons) == LANES - 1 and all(cron["active"] for cron in crons)

    # Queued the way the composer queues mail; creating it wakes every lane's cron.
    rpc.execute_kw(
        "mail.mail",
        "create",
        [
            [
                {
                    "subject": f"Lanes {n:03d}",
                    "body_html": f"<p>Email {n}</p>",
                    "email_from": "jobs@agency.example.com",
                    "email_to": f"lane{n:03d}@example.com",
                }
                for n in range(COUNT)
            ]
        ],
    )
    mail_ids = rpc.search("mail.mail", [("subject", "like", "Lanes ")])
    deadline = time.monotonic() + 180
    while len(smtp_server.messages) < COUNT and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(2)

    sent = rpc.read("mail.mail", mail_ids, ["message_id", "outbox_status"])
    assert collections.Counter(m["outbox_status"] for m in sent) == {"sent": COUNT}
    received = collections.Counter(smtp_server.message_ids())
    assert len(received) == COUNT
    assert set(received.values()) == {1}, "each email arrives exactly once"
    log = server.log_text()
    for lane in range(1, LANES + 1):
        assert f"Sending lane {lane} of {LANES}:" in log, f"lane {lane} sent nothing"
