"""The Outbox end to end: a real Odoo server process, a real SMTP server on
127.0.0.1, driven over the same JSON-RPC routes the web client uses."""

import datetime as dt
import time

import pytest

from rpc import RpcError

OUTBOX = [("outbox_status", "in", ["queued", "scheduled", "failed"])]
FIELDS = [
    "subject",
    "outbox_status",
    "failure_type",
    "failure_reason",
    "message_id",
    "attempt_count",
    "smtp_server_id",
    "next_attempt_date",
]


def mail_values(subject, email_to, **values):
    return {
        "subject": subject,
        "email_from": "Agency <jobs@agency.example.com>",
        "email_to": email_to,
        "body_html": f"<p>{subject}</p>",
        **values,
    }


def queue(rpc, subject, email_to, **values):
    return rpc.create("mail.mail", mail_values(subject, email_to, **values))


def queue_all(rpc, *mails):
    """Queue these emails, each ``(subject, email_to, values)``, in one
    transaction: each commit wakes the server's cron thread, which would
    otherwise send them in several runs while they are being created."""
    return rpc.create("mail.mail", [mail_values(subject, email_to, **values) for subject, email_to, values in mails])


def read(rpc, mail_id):
    return rpc.read("mail.mail", [mail_id], FIELDS)[0]


def arrived(smtp_server, message_id):
    return smtp_server.message_ids().count(message_id)


def wait_until(predicate, timeout=60, step=0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def test_queue_send_fail_schedule_then_fix_and_resend(odoo_server, smtp_server):
    rpc = odoo_server.rpc
    tomorrow = (dt.datetime.utcnow() + dt.timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S")
    good = queue(rpc, "E2E good", "anna@example.com")
    bad = queue(rpc, "E2E invalid", "tom.okafor@@example.com")
    later = queue(rpc, "E2E scheduled", "lea@example.com", scheduled_date=tomorrow)

    odoo_server.run_mail_queue()
    good_id = read(rpc, good)["message_id"]
    assert wait_until(lambda: arrived(smtp_server, good_id) == 1)
    time.sleep(1)  # anything else that was going to arrive has arrived
    assert smtp_server.message_ids() == [good_id], "exactly the good email reached the server"

    failed = read(rpc, bad)
    assert failed["outbox_status"] == "failed"
    assert failed["failure_type"] == "mail_email_invalid"
    assert "Address syntax error" in failed["failure_reason"]
    assert "tom.okafor@@example.com" in failed["failure_reason"]
    assert read(rpc, later)["outbox_status"] == "scheduled"
    assert read(rpc, good)["outbox_status"] == "sent"

    # What the user sees in Mail > Outbox
    web = odoo_server.web_session()
    listed = {
        row["id"]: row
        for row in web.call_kw(
            "mail.mail",
            "search_read",
            [OUTBOX + [("id", "in", [good, bad, later])]],
            {"fields": ["outbox_status", "failure_summary"]},
        )
    }
    assert set(listed) == {bad, later}
    assert "Address syntax error" in listed[bad]["failure_summary"]

    # Fix the address in the form, press Resend: the cron sends it in the background
    web.call_kw("mail.mail", "write", [[bad], {"email_to": "tom.okafor@example.com"}])
    action = web.call_button("mail.mail", "action_resend", [bad])
    assert action["params"]["type"] == "success"
    assert read(rpc, bad)["outbox_status"] in ("queued", "sent")
    fixed_id = read(rpc, bad)["message_id"]
    assert wait_until(lambda: arrived(smtp_server, fixed_id) >= 1), (
        "Resend wakes the cron: the mail leaves without anyone running the queue"
    )
    odoo_server.run_mail_queue()  # a second run must not send it again
    time.sleep(1)
    assert arrived(smtp_server, fixed_id) == 1
    assert arrived(smtp_server, good_id) == 1
    assert read(rpc, bad)["outbox_status"] == "sent"
    assert read(rpc, later)["outbox_status"] == "scheduled"

    # Resending mail that is not failed is refused with a clear message
    with pytest.raises(RpcError, match="Only failed or partly sent emails can be resent"):
        web.call_button("mail.mail", "action_resend", [later])


def test_rejected_recipient_shows_the_servers_reply(odoo_server, smtp_server):
    smtp_server.reject.add("gone@example.com")
    mail = queue(odoo_server.rpc, "E2E rejected", "gone@example.com")
    odoo_server.run_mail_queue()
    assert wait_until(lambda: read(odoo_server.rpc, mail)["outbox_status"] == "failed", timeout=30)
    failed = read(odoo_server.rpc, mail)
    assert failed["failure_type"] == "mail_rejected"
    assert "550 5.1.1" in failed["failure_reason"]
    assert "gone@example.com" in failed["failure_reason"]
    assert smtp_server.message_ids() == []


def test_dead_smtp_server_is_named_and_mail_goes_once_it_is_back(odoo_server, smtp_server):
    rpc = odoo_server.rpc
    smtp_server.stop()
    retried = queue(rpc, "E2E server down, retried", "anna@example.com")
    odoo_server.run_mail_queue()
    assert wait_until(lambda: read(rpc, retried)["attempt_count"] >= 1, timeout=30)
    waiting = read(rpc, retried)
    # a temporary failure: back in the queue with a next attempt, saying why
    assert waiting["outbox_status"] == "queued"
    assert waiting["next_attempt_date"]
    for text in ('"Test SMTP"', f"127.0.0.1:{smtp_server.port}", "Connection refused", "Check the SMTP settings"):
        assert text in waiting["failure_reason"]

    # with one attempt allowed, the next one fails at once
    param = rpc.search("ir.config_parameter", [("key", "=", "recruitment_mail.max_attempts")])
    if param:
        rpc.write("ir.config_parameter", param, {"value": "1"})
    else:
        rpc.create("ir.config_parameter", {"key": "recruitment_mail.max_attempts", "value": "1"})
    try:
        failed_id = queue(rpc, "E2E server down, failed", "lea@example.com")
        odoo_server.run_mail_queue()
        assert wait_until(lambda: read(rpc, failed_id)["outbox_status"] == "failed", timeout=30)
    finally:
        rpc.unlink(
            "ir.config_parameter", rpc.search("ir.config_parameter", [("key", "=", "recruitment_mail.max_attempts")])
        )
    failed = read(rpc, failed_id)
    assert failed["failure_type"] == "mail_smtp"
    assert "Connection refused" in failed["failure_reason"]

    web = odoo_server.web_session()
    action = web.call_button("mail.mail", "action_open_mail_server", [failed_id])
    assert action["res_model"] == "ir.mail_server"
    assert action["res_id"] == failed["smtp_server_id"][0]

    # the server is back: Resend the failed one, Send now the waiting one
    smtp_server.start()
    web.call_button("mail.mail", "action_resend", [failed_id])
    web.call_button("mail.mail", "action_send_now", [retried])
    ids = [read(rpc, m)["message_id"] for m in (failed_id, retried)]
    assert wait_until(lambda: all(arrived(smtp_server, i) == 1 for i in ids))
    odoo_server.run_mail_queue()
    time.sleep(1)
    assert [arrived(smtp_server, i) for i in ids] == [1, 1]


def test_delete_from_the_outbox(odoo_server, smtp_server):
    rpc = odoo_server.rpc
    first = queue(rpc, "E2E delete 1", "a@@example.com")
    second = queue(rpc, "E2E delete 2", "b@@example.com")
    odoo_server.run_mail_queue()
    assert wait_until(lambda: {read(rpc, m)["outbox_status"] for m in (first, second)} == {"failed"})
    web = odoo_server.web_session()
    web.call_button("mail.mail", "action_delete", [first, second])
    assert rpc.search("mail.mail", [("id", "in", [first, second])]) == []


DSN = """From: MAILER-DAEMON@mx.example.com
To: bounce@agency.example.com
Subject: Undelivered Mail Returned to Sender
Message-Id: <dsn-e2e@mx.example.com>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="REPORT"

--REPORT
Content-Type: text/plain

Your message could not be delivered.

--REPORT
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com

Final-Recipient: rfc822; {address}
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <{address}>: Recipient address rejected: User unknown

--REPORT
Content-Type: text/rfc822-headers

Message-Id: {message_id}
To: {address}
Subject: E2E bounce

--REPORT--
"""


def test_bounce_report_through_the_mail_gateway_fails_the_sent_email(odoo_server, smtp_server):
    rpc = odoo_server.rpc
    mail = queue(rpc, "E2E bounce", "moved.on@example.com")
    odoo_server.run_mail_queue()
    message_id = read(rpc, mail)["message_id"]
    assert wait_until(lambda: arrived(smtp_server, message_id) == 1)
    assert read(rpc, mail)["outbox_status"] == "sent"
    # what Odoo's mailgate script does with an incoming email
    rpc.execute_kw(
        "mail.thread", "message_process", [False, DSN.format(address="moved.on@example.com", message_id=message_id)]
    )
    bounced = read(rpc, mail)
    assert bounced["outbox_status"] == "failed"
    assert bounced["failure_type"] == "mail_bounce"
    assert "Recipient address rejected: User unknown" in bounced["failure_reason"]
