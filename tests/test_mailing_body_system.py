"""A mailing sent with Keep Archives off (mass_mailing): stock Odoo deletes
each recipient's email once sent; Sent items keep it, but not its
per-recipient body. A real Odoo server with mass_mailing installed, a real
SMTP server on 127.0.0.1."""

import pytest

from conftest import _psql, served
from rpc import RpcError
from test_outbox_system import wait_until

NAMES = ["Anna Rossi", "Ben Okafor", "Carla Weiss"]
NOTE = "The body of this email was not kept: it was sent by the mailing"
MAIL_FIELDS = [
    "subject",
    "email_to",
    "body_html",
    "body_status",
    "state",
    "outbox_status",
    "date_sent",
    "message_id",
    "mailing_id",
    "mail_message_id",
]


@pytest.fixture(scope="module")
def mailing_server(harness, template_db, smtp_server):
    """An Odoo server on a copy of the template with mass_mailing installed
    (installed once for this module's tests)."""
    db = harness.new_db_name()
    harness.copy_db(template_db, db)
    harness.run_odoo(db, "-i", "mass_mailing", "--without-demo=all", label="mass_mailing")
    # the nightly retention job (which also drops bodies left behind) runs
    # only when a test triggers it: what happens after sending is the queue's
    _psql(
        db,
        """UPDATE ir_cron SET nextcall = now() + interval '1 day'
            WHERE id = (SELECT res_id FROM ir_model_data
                         WHERE module = 'recruitment_mail' AND name = 'ir_cron_sent_mail_retention')""",
    )
    with served(harness, db, smtp_server.port) as server:
        yield server


@pytest.fixture(scope="module")
def contacts(mailing_server):
    rpc = mailing_server.rpc
    return rpc.create(
        "mailing.list",
        {
            "name": "Candidates, June",
            "contact_ids": [
                (0, 0, {"name": name, "email": f"{name.split()[0].lower()}@example.com"}) for name in NAMES
            ],
        },
    )


def send_mailing(server, mailing_list, subject, keep_archives):
    """Send a mailing to ``mailing_list`` as a user does (Send), then run the
    queue; return the ids of its emails once all are sent."""
    rpc = server.rpc
    mailing = rpc.create(
        "mailing.mailing",
        {
            "subject": subject,
            "body_html": '<p>Dear <t t-out="object.name"/>, our vacancies this week.</p>',
            "mailing_model_id": rpc.ref("mass_mailing.model_mailing_list"),
            "contact_list_ids": [(6, 0, [mailing_list])],
            "email_from": "Agency <jobs@agency.example.com>",
            "keep_archives": keep_archives,
        },
    )
    rpc.execute_kw("mailing.mailing", "action_send_mail", [[mailing]])
    server.run_mail_queue()
    mail_ids = rpc.search("mail.mail", [("mailing_id", "=", mailing)])
    assert len(mail_ids) == len(NAMES)
    assert wait_until(lambda: all(m["state"] == "sent" for m in rpc.read("mail.mail", mail_ids, ["state"]))), rpc.read(
        "mail.mail", mail_ids, ["state", "failure_reason"]
    )
    return mailing, mail_ids


def html_body(received):
    return received.message.get_body(("html",)).get_content()


def test_a_mailing_with_archives_off_is_kept_in_sent_items_without_its_bodies(mailing_server, smtp_server, contacts):
    rpc = mailing_server.rpc
    subject = "Vacancies <June> & July"
    mailing, mail_ids = send_mailing(mailing_server, contacts, subject, keep_archives=False)

    # every recipient got their own body
    received = {r.rcpt_tos[0]: html_body(r) for r in smtp_server.received if r.message["Subject"] == subject}
    assert sorted(received) == ["anna@example.com", "ben@example.com", "carla@example.com"]
    for name in NAMES:
        assert f"Dear {name}, our vacancies" in received[f"{name.split()[0].lower()}@example.com"]

    # once sent, the bodies go (just after the sending transaction committed)
    def mails():
        return rpc.read("mail.mail", mail_ids, MAIL_FIELDS)

    assert wait_until(lambda: all(m["body_status"] == "dropped" for m in mails())), mails()
    sent_items = rpc.search("mail.mail", [("id", "in", mail_ids), ("outbox_status", "in", ["sent", "partial"])])
    assert sorted(sent_items) == sorted(mail_ids), "kept in Sent items"
    for mail in mails():
        assert mail["subject"] == subject
        assert mail["email_to"].endswith("@example.com")
        assert mail["date_sent"] and mail["message_id"]
        assert mail["mailing_id"][0] == mailing
        assert "Dear" not in mail["body_html"]
        # the mailing's name, escaped, in the note
        assert f"{NOTE} \u201cVacancies &lt;June&gt; &amp; July\u201d with Keep Archives off." in mail["body_html"]
        message = rpc.read("mail.message", [mail["mail_message_id"][0]], ["body", "model", "res_id"])[0]
        assert NOTE in message["body"] and "Dear" not in message["body"]
        assert not message["model"], "the kept email's message is in no record's chatter"
    # no per-recipient copy of the body anywhere, no chatter message on the contacts
    for name in NAMES:
        assert not rpc.search("mail.mail", [("body_html", "ilike", f"Dear {name}")])
        assert not rpc.search("mail.message", [("body", "ilike", f"Dear {name}")])
    contact_ids = rpc.search("mailing.contact", [("list_ids", "in", [contacts])])
    on_contacts = [("model", "=", "mailing.contact"), ("res_id", "in", contact_ids)]
    assert rpc.search("mail.message", on_contacts), "the contacts have a chatter (their creation)"
    assert not rpc.search("mail.message", [*on_contacts, ("subject", "=", subject)])
    assert not rpc.search("mail.message", [*on_contacts, ("message_type", "=", "email_outgoing")])
    # the traces stay
    traces = rpc.search_read("mailing.trace", [("mass_mailing_id", "=", mailing)], ["trace_status"])
    assert sorted(t["trace_status"] for t in traces) == ["sent"] * len(NAMES)

    # its body is gone: a bounce puts it back to Failed, but it cannot be resent
    rpc.write("mail.mail", mail_ids[:1], {"state": "exception", "failure_type": "mail_bounce"})
    with pytest.raises(RpcError, match="cannot be resent"):
        rpc.execute_kw("mail.mail", "action_resend", [mail_ids[:1]])


def test_a_mailing_with_archives_on_keeps_its_bodies(mailing_server, smtp_server, contacts):
    rpc = mailing_server.rpc
    _mailing, mail_ids = send_mailing(mailing_server, contacts, "Vacancies, archived", keep_archives=True)
    assert len([r for r in smtp_server.received if r.message["Subject"] == "Vacancies, archived"]) == len(NAMES)
    mails = rpc.read("mail.mail", mail_ids, ["body_html", "body_status"])
    assert sorted(name for name in NAMES for m in mails if f"Dear {name}," in m["body_html"]) == sorted(NAMES)
    assert all(not m["body_status"] for m in mails)


def test_the_nightly_retention_job_drops_what_a_dead_run_left(mailing_server, contacts):
    """A queue run's process that died between its commit and dropping the
    bodies leaves sent mail marked to drop: the retention job drops them,
    except those not delivered to everyone (they may be resent)."""
    rpc = mailing_server.rpc
    mailing = rpc.create(
        "mailing.mailing",
        {
            "subject": "Left behind",
            "body_html": "<p>x</p>",
            "mailing_model_id": rpc.ref("mass_mailing.model_mailing_list"),
            "contact_list_ids": [(6, 0, [contacts])],
        },
    )

    def left_behind(email_to, **values):
        return rpc.create(
            "mail.mail",
            {
                "subject": "Left behind",
                "email_from": "Agency <jobs@agency.example.com>",
                "email_to": email_to,
                "body_html": f"<p>Dear {email_to}</p>",
                "body": f"<p>Dear {email_to}</p>",
                "mailing_id": mailing,
                "state": "sent",
                "body_status": "to_drop",
                **values,
            },
        )

    delivered = left_behind("zed@example.com")
    partly = left_behind(
        "yan@example.com, xia@example.com",
        recipient_fates={
            "yan@example.com": ["delivered", ""],
            "xia@example.com": ["refused", "550 5.1.1 User unknown"],
        },
    )
    assert rpc.read("mail.mail", [partly], ["outbox_status"])[0]["outbox_status"] == "partial"

    mailing_server.trigger_cron("recruitment_mail.ir_cron_sent_mail_retention")
    mail = rpc.read("mail.mail", [delivered], ["body_html", "body_status", "mail_message_id"])[0]
    assert mail["body_status"] == "dropped"
    assert f"{NOTE} \u201cLeft behind\u201d" in mail["body_html"]
    assert NOTE in rpc.read("mail.message", [mail["mail_message_id"][0]], ["body"])[0]["body"]
    kept = rpc.read("mail.mail", [partly], ["body_html", "body_status"])[0]
    assert "Dear yan@example.com" in kept["body_html"] and kept["body_status"] == "to_drop", (
        "a partly sent email keeps its body: it may be resent"
    )
