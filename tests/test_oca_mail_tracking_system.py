"""Beside OCA's mail_tracking (issue #13 point 8), on a real Odoo server with
a real SMTP server: mail_tracking keeps one tracking row per email and
recipient, made in _prepare_outgoing_list and settled in send_email, whose
override swallows the SMTP error (it returns False). The pinned 18.0 wheel
comes from scripts/oca_addons.sh (PyPI, sha256-checked, cached)."""

import subprocess
from collections import Counter

import pytest

from conftest import REPO_ROOT, OdooServer
from test_outbox_system import queue, wait_until

TRACKING_FIELDS = ["mail_id", "mail_message_id", "partner_id", "recipient_address", "state", "error_type"]


@pytest.fixture(scope="module")
def oca_addons_dir():
    proc = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "oca_addons.sh")], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, f"scripts/oca_addons.sh failed:\n{proc.stderr[-2000:]}"
    return proc.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def tracking_server(harness, template_db, smtp_server, oca_addons_dir):
    """An Odoo server with recruitment_mail and mail_tracking."""
    db = harness.new_db_name()
    harness.copy_db(template_db, db)
    addons = f"--addons-path={harness.addons_path},{oca_addons_dir}"
    try:
        harness.run_odoo(db, addons, "-i", "mail_tracking", label="mail-tracking-install")
        server = OdooServer(harness, db, smtp_server.port, extra_args=(addons,))
        try:
            server.start()
            server.configure_smtp(smtp_server.port)
            server.rpc.write("res.users", [server.rpc.ref("base.user_admin")], {"email": "admin@agency.example.com"})
            yield server
        finally:
            server.stop()
    finally:
        harness.drop_db(db)


def trackings(rpc, domain):
    return rpc.search_read("mail.tracking.email", domain, TRACKING_FIELDS)


def mail_of(rpc, mail_id):
    fields = ["outbox_status", "state", "failure_type", "failure_reason", "next_attempt_date"]
    return rpc.read("mail.mail", [mail_id], fields)[0]


def test_twenty_chatter_posts_leave_one_tracking_row_per_email_none_waiting(tracking_server, smtp_server):
    rpc = tracking_server.rpc
    job = rpc.create("hr.job", {"name": "Warehouse Operative"})
    partners = [
        rpc.create("res.partner", {"name": f"Candidate {n}", "email": f"cand{n}@example.com"}) for n in range(20)
    ]
    for partner in partners:
        rpc.execute_kw(
            "hr.job",
            "message_post",
            [[job]],
            {
                "body": f"<p>Shortlisted: {partner}</p>",
                "partner_ids": [partner],
                "message_type": "comment",
                "subtype_xmlid": "mail.mt_comment",
            },
        )
    messages = rpc.search(
        "mail.message", [("model", "=", "hr.job"), ("res_id", "=", job), ("message_type", "=", "comment")]
    )
    assert len(messages) == 20
    tracking_server.run_mail_queue()  # whatever the posts did not send at once
    tracking_server.run_mail_queue()
    mails = rpc.search_read("mail.mail", [("mail_message_id", "in", messages)], ["state"])
    assert len(mails) == 20

    assert wait_until(
        lambda: all(m["state"] == "sent" for m in rpc.read("mail.mail", [m["id"] for m in mails], ["state"]))
    )
    rows = trackings(rpc, [("mail_message_id", "in", messages)])
    per_email = Counter(
        (row["mail_id"] and row["mail_id"][0], row["partner_id"] and row["partner_id"][0]) for row in rows
    )
    assert len(rows) == 20, rows
    assert set(per_email.values()) == {1}, "exactly one tracking row per email and recipient"
    assert {partner for _mail, partner in per_email} == set(partners)
    assert [row for row in rows if not row["state"]] == [], "none left Waiting"
    assert {row["state"] for row in rows} == {"sent"}
    received = Counter(
        address for r in smtp_server.received for address in r.rcpt_tos if address.startswith("cand")
    )  # (not Odoo's notice to the admin's former address, see the fixture)
    assert received == Counter(f"cand{n}@example.com" for n in range(20)), "each sent exactly once"


def test_a_550_swallowed_by_mail_tracking_fails_with_the_server_words(tracking_server, smtp_server):
    rpc = tracking_server.rpc
    smtp_server.reject_replies["gone@example.com"] = "550 5.1.1 User unknown"
    mail_id = queue(rpc, "Tracked refusal", "gone@example.com")
    tracking_server.run_mail_queue()
    assert wait_until(lambda: mail_of(rpc, mail_id)["outbox_status"] == "failed"), mail_of(rpc, mail_id)
    mail = mail_of(rpc, mail_id)
    assert "550 5.1.1 User unknown" in mail["failure_reason"]
    assert "gave no reason" not in mail["failure_reason"]
    assert mail["failure_type"] == "mail_rejected"
    rows = trackings(rpc, [("mail_id", "=", mail_id)])
    assert [row["state"] for row in rows] == ["error"], "mail_tracking saw the refusal too"


def test_a_451_swallowed_by_mail_tracking_is_tried_again(tracking_server, smtp_server):
    rpc = tracking_server.rpc
    smtp_server.reject_replies["busy@example.com"] = "451 4.7.1 Greylisted, try again later"
    mail_id = queue(rpc, "Tracked deferral", "busy@example.com")
    tracking_server.run_mail_queue()
    assert wait_until(lambda: mail_of(rpc, mail_id)["next_attempt_date"]), mail_of(rpc, mail_id)
    mail = mail_of(rpc, mail_id)
    assert mail["outbox_status"] == "queued"
    assert "451 4.7.1 Greylisted" in mail["failure_reason"]

    smtp_server.reject_replies.clear()
    rpc.execute_kw("mail.mail", "action_send_now", [[mail_id]])
    tracking_server.run_mail_queue()
    assert wait_until(lambda: mail_of(rpc, mail_id)["outbox_status"] == "sent")
    rows = trackings(rpc, [("mail_id", "=", mail_id)])
    assert sorted(row["state"] for row in rows) == ["error", "sent"], "one row per attempt, as mail_tracking keeps them"
    assert [r.rcpt_tos for r in smtp_server.received] == [["busy@example.com"]]


def test_a_contact_without_an_address_gets_a_no_recipient_tracking_row(tracking_server, smtp_server):
    rpc = tracking_server.rpc
    partner = rpc.create("res.partner", {"name": "No Address Candidate"})
    job = rpc.create("hr.job", {"name": "Forklift Driver"})
    rpc.execute_kw(
        "hr.job",
        "message_post",
        [[job]],
        {
            "body": "<p>Hello</p>",
            "partner_ids": [partner],
            "message_type": "comment",
            "subtype_xmlid": "mail.mt_comment",
        },
    )
    tracking_server.run_mail_queue()
    message = rpc.search("mail.message", [("model", "=", "hr.job"), ("res_id", "=", job)], limit=1)[0]
    mails = rpc.search("mail.mail", [("mail_message_id", "=", message)])
    assert len(mails) == 1
    assert wait_until(lambda: mail_of(rpc, mails[0])["outbox_status"] == "failed"), mail_of(rpc, mails[0])
    assert "No email address for the recipient No Address Candidate" in mail_of(rpc, mails[0])["failure_reason"]
    rows = trackings(rpc, [("mail_message_id", "=", message)])
    assert [(row["state"], row["error_type"]) for row in rows] == [("error", "no_recipient")]
    assert smtp_server.received == []
