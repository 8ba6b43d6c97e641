"""Bulk email scheduled for tomorrow, end to end: a real Odoo server and a
real SMTP server; nothing leaves early, everything leaves once, exactly once."""

import collections
import datetime as dt
import time

COUNT = 200


def test_bulk_email_to_200_candidates_scheduled_for_tomorrow(odoo_server, smtp_server):
    rpc = odoo_server.rpc
    partners = [
        rpc.create("res.partner", {"name": f"Candidate {n:03d}", "email": f"cand{n:03d}@example.com"})
        for n in range(COUNT)
    ]
    candidates = [
        rpc.create("hr.candidate", {"partner_id": pid, "partner_name": f"Candidate {n:03d}"})
        for n, pid in enumerate(partners)
    ]

    # From the candidate list: select all, Send email, Send later = tomorrow
    web = odoo_server.web_session()
    tomorrow = (dt.datetime.utcnow() + dt.timedelta(days=1)).replace(microsecond=0)
    context = {
        "active_model": "hr.candidate",
        "active_ids": candidates,
        "default_composition_mode": "mass_mail",
        "default_model": "hr.candidate",
        "default_res_ids": candidates,
    }
    composer = web.call_kw(
        "mail.compose.message",
        "create",
        [
            {
                "subject": "Open day on Friday",
                "body": "<p>Join us on Friday.</p>",
                "send_later_date": tomorrow.strftime("%Y-%m-%d %H:%M:%S"),
            }
        ],
        {"context": context},
    )
    action = web.call_button("mail.compose.message", "action_send_mail", [composer], context=context)
    assert f"{COUNT} email(s) scheduled" in action["params"]["message"]

    mail_ids = rpc.search("mail.mail", [("subject", "=", "Open day on Friday")])
    assert len(mail_ids) == COUNT
    statuses = collections.Counter(m["outbox_status"] for m in rpc.read("mail.mail", mail_ids, ["outbox_status"]))
    assert statuses == {"scheduled": COUNT}

    odoo_server.run_mail_queue()
    time.sleep(1)
    assert smtp_server.message_ids() == [], "no scheduled email leaves before its time"

    # Tomorrow comes: move the scheduled date into the past
    rpc.write(
        "mail.mail",
        mail_ids,
        {"scheduled_date": (dt.datetime.utcnow() - dt.timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S")},
    )
    deadline = time.monotonic() + 120
    while len(smtp_server.messages) < COUNT and time.monotonic() < deadline:
        odoo_server.run_mail_queue()
        time.sleep(0.5)
    odoo_server.run_mail_queue()
    time.sleep(1)

    sent = rpc.read("mail.mail", mail_ids, ["message_id", "outbox_status"])
    assert collections.Counter(m["outbox_status"] for m in sent) == {"sent": COUNT}
    received = collections.Counter(smtp_server.message_ids())
    assert len(received) == COUNT
    assert set(received.values()) == {1}, "each email arrives exactly once"
    assert set(received) == {m["message_id"] for m in sent}
    recipients = sorted(r for rec in smtp_server.received for r in rec.rcpt_tos)
    assert recipients == sorted(f"cand{n:03d}@example.com" for n in range(COUNT))
