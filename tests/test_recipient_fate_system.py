"""Every recipient's fate, against a real SMTP server on 127.0.0.1 that
accepts some recipients of one email and refuses others at RCPT (smtplib
returns those refusals instead of raising)."""

from test_outbox_system import queue, wait_until


def rcpt_tos(smtp_server, subject):
    """Every envelope recipient the server accepted for emails with ``subject``."""
    return sorted(
        address
        for received in smtp_server.received
        if received.message["Subject"] == subject
        for address in received.rcpt_tos
    )


def read(rpc, mail_id):
    return rpc.read(
        "mail.mail",
        [mail_id],
        ["outbox_status", "state", "failure_reason", "failure_summary", "recipients_report", "next_attempt_date"],
    )[0]


def test_partial_refusal_for_good_then_resend_reaches_only_the_refused(odoo_server, smtp_server):
    rpc = odoo_server.rpc
    smtp_server.reject_replies["carl@example.com"] = "550 5.1.1 User unknown"
    mail_id = queue(rpc, "Shortlist", "anna@example.com, ben@example.com, carl@example.com")
    odoo_server.run_mail_queue()
    assert wait_until(lambda: read(rpc, mail_id)["outbox_status"] == "partial")
    assert rcpt_tos(smtp_server, "Shortlist") == ["anna@example.com", "ben@example.com"]
    mail = read(rpc, mail_id)
    assert "Partly sent: delivered to 2, refused 1" in mail["failure_summary"]
    assert "carl@example.com: 550 5.1.1 User unknown" in mail["failure_summary"]
    outbox = rpc.search("mail.mail", [("outbox_status", "in", ["queued", "scheduled", "failed", "partial"])])
    assert mail_id in outbox

    smtp_server.reject_replies.clear()  # the address was fixed on the server's side
    rpc.execute_kw("mail.mail", "action_resend", [[mail_id]])
    odoo_server.run_mail_queue()
    assert wait_until(lambda: read(rpc, mail_id)["outbox_status"] == "sent")
    assert rcpt_tos(smtp_server, "Shortlist") == ["anna@example.com", "ben@example.com", "carl@example.com"], (
        "Resend went to carl only: anna and ben got it once"
    )


def test_partial_refusal_for_now_is_retried_for_that_recipient_only(odoo_server, smtp_server):
    rpc = odoo_server.rpc
    smtp_server.reject_replies["ben@example.com"] = "451 4.7.1 Greylisted, try again later"
    mail_id = queue(rpc, "Interview slots", "anna@example.com, ben@example.com")
    odoo_server.run_mail_queue()
    assert wait_until(lambda: read(rpc, mail_id)["next_attempt_date"])
    assert read(rpc, mail_id)["outbox_status"] == "queued"
    assert rcpt_tos(smtp_server, "Interview slots") == ["anna@example.com"]

    smtp_server.reject_replies.clear()
    rpc.execute_kw("mail.mail", "action_send_now", [[mail_id]])
    odoo_server.run_mail_queue()
    assert wait_until(lambda: read(rpc, mail_id)["outbox_status"] == "sent")
    assert rcpt_tos(smtp_server, "Interview slots") == ["anna@example.com", "ben@example.com"]


def test_special_use_domains_and_an_address_missing_its_bracket_are_sent(odoo_server, smtp_server):
    rpc = odoo_server.rpc
    mail_id = queue(
        rpc, "Internal test", '"Customer" <customer@example.com, dev@agency.test, it@office.local, ops@corp.internal'
    )
    odoo_server.run_mail_queue()
    assert wait_until(lambda: read(rpc, mail_id)["outbox_status"] == "sent"), read(rpc, mail_id)
    assert rcpt_tos(smtp_server, "Internal test") == [
        "customer@example.com",
        "dev@agency.test",
        "it@office.local",
        "ops@corp.internal",
    ]


def test_a_notification_to_fifty_followers_with_one_bad_address_reaches_the_others(odoo_server, smtp_server):
    rpc = odoo_server.rpc
    partners = [rpc.create("res.partner", {"name": f"Follower {n}", "email": f"f{n}@example.com"}) for n in range(49)]
    partners.append(rpc.create("res.partner", {"name": "Bad Address", "email": "bad@@example.com"}))
    job = rpc.create("hr.job", {"name": "Night Shift Supervisor"})
    rpc.execute_kw(
        "hr.job",
        "message_post",
        [[job]],
        {
            "body": "<p>Shift pattern changed</p>",
            "partner_ids": partners,
            "message_type": "comment",
            "subtype_xmlid": "mail.mt_comment",
        },
    )
    message_id = rpc.search(
        "mail.message", [("model", "=", "hr.job"), ("res_id", "=", job), ("message_type", "=", "comment")]
    )[0]
    odoo_server.run_mail_queue()

    def notifications():
        return rpc.search_read(
            "mail.notification", [("mail_message_id", "=", message_id)], ["res_partner_id", "notification_status"]
        )

    assert wait_until(lambda: all(n["notification_status"] in ("sent", "exception") for n in notifications()))
    failed = [n["res_partner_id"][1] for n in notifications() if n["notification_status"] == "exception"]
    assert failed == ["Bad Address"]
    received = {address for r in smtp_server.received for address in r.rcpt_tos}
    assert {f"f{n}@example.com" for n in range(49)} <= received
