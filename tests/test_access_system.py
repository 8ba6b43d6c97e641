"""Who sees what, through the JSON-RPC API of a running server: the record
rules and access rights hold for a user who bypasses the menus."""

import pytest

from rpc import RpcError

ROLES = {
    "rita": ["base.group_user"],
    "colin": ["base.group_user"],
    "olga": ["hr_recruitment.group_hr_recruitment_user"],
    "max": ["hr_recruitment.group_hr_recruitment_manager"],
    "paula": ["base.group_portal"],
}


@pytest.fixture(scope="module")
def agency(odoo_server):
    """Users of every role, and a failed email with an attachment from Rita and from Colin."""
    rpc = odoo_server.rpc
    users = {}
    for login, groups in ROLES.items():
        existing = rpc.search("res.users", [("login", "=", login)])
        values = {
            "name": login.title(),
            "login": login,
            "password": f"{login}-pw-123",
            "email": f"{login}@agency.example.com",
            "groups_id": [(6, 0, [rpc.ref(g) for g in groups])],
        }
        users[login] = existing[0] if existing else rpc.create("res.users", values)
    partner = {login: rpc.read("res.users", [uid], ["partner_id"])[0]["partner_id"][0] for login, uid in users.items()}
    mails = {}
    for login in ("rita", "colin"):
        attachment = rpc.create("ir.attachment", {"name": f"cv-{login}.txt", "raw": "CV", "res_model": "mail.message"})
        mails[login] = rpc.create(
            "mail.mail",
            {
                "subject": f"Offer from {login}",
                "email_to": "bad@@example.com",
                "author_id": partner[login],
                "email_from": f"{login}@agency.example.com",
                "body_html": f"<p>secret terms of {login}</p>",
                "attachment_ids": [(6, 0, [attachment])],
            },
        )
        message = rpc.read("mail.mail", [mails[login]], ["mail_message_id"])[0]["mail_message_id"][0]
        rpc.write("ir.attachment", [attachment], {"res_id": message})  # as the chatter links them
    odoo_server.run_mail_queue()
    rows = rpc.read("mail.mail", list(mails.values()), ["outbox_status", "mail_message_id", "attachment_ids"])
    assert {row["outbox_status"] for row in rows} == {"failed"}
    info = {login: row for login, row in zip(mails, rows, strict=True)}
    return {"users": users, "mails": mails, "info": info}


def session(odoo_server, login):
    return odoo_server.web_session(login, f"{login}-pw-123")


def visible(web, ids):
    return set(web.call_kw("mail.mail", "search", [[("id", "in", ids)]]))


def test_internal_user_sees_and_acts_on_own_mail_only(odoo_server, agency):
    rita = session(odoo_server, "rita")
    mails = agency["mails"]
    assert visible(rita, list(mails.values())) == {mails["rita"]}
    with pytest.raises(RpcError, match="AccessError"):
        rita.call_kw("mail.mail", "read", [[mails["colin"]], ["body_html"]])
    colin_message = agency["info"]["colin"]["mail_message_id"][0]
    assert rita.call_kw("mail.message", "search", [[("id", "=", colin_message)]]) == []
    with pytest.raises(RpcError, match="AccessError"):
        rita.call_kw("mail.message", "read", [[colin_message], ["body"]])
    with pytest.raises(RpcError, match="AccessError"):
        rita.call_kw("ir.attachment", "read", [agency["info"]["colin"]["attachment_ids"], ["raw"]])
    with pytest.raises(RpcError, match="AccessError"):
        rita.call_button("mail.mail", "action_resend", [mails["colin"]])
    with pytest.raises(RpcError, match="AccessError"):
        rita.call_button("mail.mail", "action_delete", [mails["colin"]])
    with pytest.raises(RpcError, match="AccessError"):
        rita.call_kw("mail.mail", "unlink", [[mails["colin"]]])
    # her own: readable, with its attachment
    own = rita.call_kw("mail.mail", "read", [[mails["rita"]], ["body_html", "subject"]])[0]
    assert "secret terms of rita" in own["body_html"]
    assert rita.call_kw("ir.attachment", "read", [agency["info"]["rita"]["attachment_ids"], ["name"]])


def test_officer_reads_everyone_but_cannot_resend_or_delete_it(odoo_server, agency):
    olga = session(odoo_server, "olga")
    mails = agency["mails"]
    assert visible(olga, list(mails.values())) == set(mails.values())
    body = olga.call_kw("mail.mail", "read", [[mails["colin"]], ["body_html"]])[0]["body_html"]
    assert "secret terms of colin" in body
    with pytest.raises(RpcError, match="AccessError"):
        olga.call_button("mail.mail", "action_resend", [mails["colin"]])
    with pytest.raises(RpcError, match="AccessError"):
        olga.call_button("mail.mail", "action_delete", [mails["colin"]])


def test_portal_user_sees_nothing(odoo_server, agency):
    paula = session(odoo_server, "paula")
    mails = agency["mails"]
    with pytest.raises(RpcError, match="AccessError"):
        paula.call_kw("mail.mail", "search_read", [[]], {"fields": ["subject"]})
    messages = [info["mail_message_id"][0] for info in agency["info"].values()]
    assert paula.call_kw("mail.message", "search", [[("id", "in", messages)]]) == []
    with pytest.raises(RpcError, match="AccessError"):
        paula.call_button("mail.mail", "action_resend", [mails["rita"]])


def test_manager_resends_and_deletes_anyones_mail(odoo_server, agency):
    max_ = session(odoo_server, "max")
    mails = agency["mails"]
    max_.call_button("mail.mail", "action_resend", [mails["colin"]])
    status = odoo_server.rpc.read("mail.mail", [mails["colin"]], ["outbox_status"])[0]["outbox_status"]
    assert status in ("queued", "failed")  # the cron may already have tried it again
    max_.call_button("mail.mail", "action_delete", [mails["colin"]])
    assert odoo_server.rpc.search("mail.mail", [("id", "=", mails["colin"])]) == []
