"""The harness itself works: Odoo serves, the add-on is installed, mail reaches SMTP."""

from conftest import MODULE


def test_module_installed(odoo_server):
    rows = odoo_server.rpc.search_read("ir.module.module", [("name", "=", MODULE)], ["state"])
    assert rows and rows[0]["state"] == "installed"


def test_web_session_login(odoo_server):
    web = odoo_server.web_session()
    assert web.uid == odoo_server.rpc.uid
    users = web.call_kw("res.users", "read", [[web.uid], ["login"]])
    assert users[0]["login"] == "admin"


def test_mail_queue_delivers_to_smtp(odoo_server, smtp_server):
    subject = "Harness smoke test"
    mail_id = odoo_server.rpc.create(
        "mail.mail",
        {
            "email_from": "Agency <agency@example.com>",
            "email_to": "candidate@example.com",
            "subject": subject,
            "body_html": "<p>Hello from the system tests.</p>",
        },
    )
    odoo_server.run_mail_queue()

    messages = smtp_server.wait_for(1, timeout=30)
    assert len(messages) == 1
    assert messages[0]["Subject"] == subject
    assert "candidate@example.com" in messages[0]["To"]
    # mail.mail records are deleted once sent (auto_delete) or flagged as sent.
    left = odoo_server.rpc.search_read("mail.mail", [("id", "=", mail_id)], ["state"])
    assert not left or left[0]["state"] == "sent"
