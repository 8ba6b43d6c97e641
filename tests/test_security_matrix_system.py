"""Who may DO what to email, door by door, over JSON-RPC on a real server.

Every door (a public method of mail.mail that sends, queues, cancels or
reschedules; writes of its fields; writes of the message an email carries;
the wizards; reading) is tried by every role on email of Bea (an internal
user): queued, scheduled, failed and sent, and on a queued password-reset
email of the administrator (system email). Each outcome is what the README's
"Who sees what" promises: allowed, AccessError or UserError. A refused call
changes nothing (re-read as the administrator) and sends nothing (the SMTP
server receives nothing); an allowed call does what it says, on an email of
its own, so that no probe passes by doing nothing.

The queue cron is off while this module runs, so that only the probes send.
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from rpc import RpcError

ALLOWED, ACCESS, USER = "allowed", "AccessError", "UserError"
ROLES = ("user_a", "user_b", "officer", "manager", "admin", "portal")
GROUPS = {
    "user_a": "base.group_user",
    "user_b": "base.group_user",
    "officer": "hr_recruitment.group_hr_recruitment_user",
    "manager": "hr_recruitment.group_hr_recruitment_manager",
    "portal": "base.group_portal",
}
KINDS = ("queued", "scheduled", "failed", "sent", "system")  # system: the administrator's, queued
WAITING = {"queued", "scheduled", "failed", "system"}
DOMAIN = "sec.example.com"

# Doors on one email; for those who may act on it, the kinds it works on.
ACTION_DOORS = {
    "send": {"queued", "system"},
    "send_after_commit": {"queued", "system"},
    "mark_outgoing": {"failed"},
    "action_retry": set(KINDS),  # retries the failed ones, leaves the rest
    "cancel": WAITING,
    "action_resend": {"failed"},
    "action_send_now": {"queued", "scheduled", "system"},
    "action_reschedule": set(KINDS),  # opens the wizard
    "reschedule_wizard": {"queued", "scheduled", "system"},
    "action_delete": WAITING,
}
# Writes users may never make (administrators may, as in stock Odoo).
FORBIDDEN_WRITES = {
    "write_mail_message_id",
    "write_mail_user_id",
    "write_author_id",
    "write_state",
    "write_mail_server_id",
    "message_write_author",
}
OTHER_DOORS = ("write_outbox_fields", "message_write_subject", "message_unlink", "read")
EMAIL_DOORS = (*ACTION_DOORS, *sorted(FORBIDDEN_WRITES), *OTHER_DOORS)
MODEL_DOORS = ("process_email_queue", "create", "jobs_by_email", "composer")


# What an allowed call leaves on its email (read back as the administrator).
EFFECTS = {
    "mark_outgoing": lambda world, row, kind: row["state"] == "outgoing",
    "action_resend": lambda world, row, kind: row["state"] == "outgoing",
    "action_retry": lambda world, row, kind: (
        row["state"] == ("outgoing" if kind == "failed" else world.snapshot_state(kind))
    ),
    "cancel": lambda world, row, kind: row["state"] == "cancel",
    "action_send_now": lambda world, row, kind: row["state"] == "outgoing" and not row["scheduled_date"],
    "reschedule_wizard": lambda world, row, kind: bool(row["scheduled_date"]) and row["scheduled_date"] > world.later,
    "write_outbox_fields": lambda world, row, kind: row["email_to"] == f"edited@{DOMAIN}",
    "write_mail_message_id": lambda world, row, kind: row["mail_message_id"][0] == world.system_message,
    "write_author_id": lambda world, row, kind: row["author_id"][0] == world.partner["user_a"],
    "write_state": lambda world, row, kind: row["state"] == "outgoing",
    "write_mail_server_id": lambda world, row, kind: row["mail_server_id"][0] == world.mail_server,
    # a stored computed field: Odoo takes the write, nothing to see
    "write_mail_user_id": lambda world, row, kind: row is not None,
    "message_write_subject": lambda world, row, kind: row["subject"] == "Rewritten",
    "message_write_author": lambda world, row, kind: row["author_id"][0] == world.partner["admin"],
}


def may_read(role, kind):
    if kind == "system":
        return role == "admin"
    return role in ("user_b", "officer", "manager", "admin")


def may_act(role, kind):
    if kind == "system":
        return role == "admin"
    return role in ("user_b", "manager", "admin")


def expected(door, role, kind):
    """What the README promises ``role`` gets at ``door`` on Bea's ``kind`` email."""
    if role == "portal":
        return ACCESS
    if door == "read":
        return ALLOWED if may_read(role, kind) else ACCESS
    if door in FORBIDDEN_WRITES:
        return ALLOWED if role == "admin" else ACCESS
    if role == "admin" and door in ("write_outbox_fields", "message_write_subject", "message_unlink"):
        return ALLOWED  # administrators edit email and messages as in stock Odoo
    if not may_act(role, kind):
        return ACCESS
    if door == "message_unlink":
        # Odoo deletes a message only for who may write its record (the candidate)
        return ALLOWED if role == "manager" else ACCESS
    if door == "message_write_subject":
        return ALLOWED  # the message of one's own email: subject and attachments, as in stock
    if door == "write_outbox_fields":
        return ALLOWED if kind in WAITING else USER
    return ALLOWED if kind in ACTION_DOORS[door] else USER


def expected_model_door(door, role):
    if role == "portal":
        return ACCESS
    if door in ("process_email_queue", "create"):
        return ALLOWED if role == "admin" else ACCESS
    if door == "jobs_by_email":
        return ALLOWED if role in ("officer", "manager", "admin") else ACCESS
    return ALLOWED  # composer: every internal user, email of their own


def _now():
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def _fmt(moment):
    return moment.strftime("%Y-%m-%d %H:%M:%S")


class World:
    """Users, sessions and email of one module run."""

    def __init__(self, server, smtp_server):
        self.server = server
        self.rpc = server.rpc
        self.smtp = smtp_server
        self.counter = itertools.count(1)
        self.uids = {}
        self.sessions = {}
        self.pristine = {}  # kind -> email id, for the refused probes
        self.fresh = {}  # (door, role, kind) -> email id, for the allowed ones
        self.later = _fmt(_now() + dt.timedelta(days=3))

    def setup(self):
        rpc = self.rpc
        for role, group in GROUPS.items():
            login = f"sec_{role}"
            existing = rpc.search("res.users", [("login", "=", login)])
            self.uids[role] = (
                existing[0]
                if existing
                else rpc.create(
                    "res.users",
                    {
                        "name": f"Sec {role}",
                        "login": login,
                        "password": f"{login}-pw-123",
                        "email": f"{login}@{DOMAIN}",
                        "groups_id": [(6, 0, [rpc.ref(group)])],
                    },
                )
            )
            self.sessions[role] = self.server.web_session(login, f"{login}-pw-123")
        self.uids["admin"] = rpc.uid
        self.sessions["admin"] = self.server.web_session()
        self.partner = {
            role: rpc.read("res.users", [uid], ["partner_id"])[0]["partner_id"][0] for role, uid in self.uids.items()
        }
        self.candidate = rpc.create("hr.candidate", {"partner_name": "Lea Sec", "email_from": f"lea@{DOMAIN}"})
        self.job = rpc.create("hr.job", {"name": "Security welder"})
        self.contact = rpc.create("res.partner", {"name": "Composer target", "email": f"contact@{DOMAIN}"})
        # Email of every kind: one for the refused probes, one per allowed probe.
        wanted = [("pristine", kind) for kind in KINDS]
        for door, role, kind in itertools.product(EMAIL_DOORS, ROLES, KINDS):
            if expected(door, role, kind) == ALLOWED:
                wanted.append(((door, role), kind))
        ids = rpc.create("mail.mail", [self.values(kind) for _key, kind in wanted])
        for (key, kind), mail_id in zip(wanted, ids, strict=True):
            if key == "pristine":
                self.pristine[kind] = mail_id
            else:
                self.fresh[(*key, kind)] = mail_id
        self.queue_for_the_cron = rpc.create("mail.mail", self.values("queued"))
        # the message the administrator's "create" probe names (it rewrites its subject)
        self.spare_system = rpc.create("mail.mail", self.values("system"))
        everything = [*ids, self.queue_for_the_cron, self.spare_system]
        rows = rpc.read("mail.mail", everything, ["email_to", "mail_message_id"])
        self.addresses = {row["id"]: row["email_to"] for row in rows}
        self.messages = {row["id"]: row["mail_message_id"][0] for row in rows}
        self.system_message = self.messages[self.pristine["system"]]
        self.mail_server = rpc.search("ir.mail_server", [], limit=1)[0]
        rows = self.read(self.pristine.values())
        self.snapshot = {row["id"]: row for row in rows}
        assert {row["outbox_status"] for row in rows} == {"queued", "scheduled", "failed", "sent"}
        assert [row["is_system_mail"] for row in rows].count(True) == 1

    def values(self, kind):
        n = next(self.counter)
        address = f"t{n}@{DOMAIN}"
        if kind == "system":
            return {
                "subject": f"Password reset {n}",
                "body_html": f'<p><a href="/web/reset_password?token=tok{n}">Reset</a></p>',
                "email_to": address,
                "email_from": f"admin@{DOMAIN}",
                "author_id": self.partner["admin"],
                "model": "res.users",
                "res_id": self.uids["user_a"],
            }
        values = {
            "subject": f"Offer {n}",
            "body_html": f"<p>Terms {n}</p>",
            "email_to": address,
            "email_from": f"sec_user_b@{DOMAIN}",
            "author_id": self.partner["user_b"],
            "model": "hr.candidate",
            "res_id": self.candidate,
            "auto_delete": False,
        }
        if kind == "scheduled":
            values["scheduled_date"] = self.later
        elif kind == "failed":
            values.update(state="exception", failure_type="mail_email_invalid", failure_reason="Bad address")
        elif kind == "sent":
            values.update(state="sent", date_sent=_fmt(_now()))
        return values

    FIELDS = [
        "state",
        "outbox_status",
        "scheduled_date",
        "email_to",
        "subject",
        "mail_message_id",
        "mail_user_id",
        "author_id",
        "mail_server_id",
        "is_system_mail",
        "attempt_count",
    ]

    def read(self, ids):
        return self.rpc.search_read("mail.mail", [("id", "in", list(ids))], self.FIELDS)

    # -- the doors ---------------------------------------------------------

    def call(self, role, door, mail_id):
        """Try ``door`` as ``role`` on ``mail_id``: (outcome, result)."""
        web = self.sessions[role]
        try:
            return ALLOWED, self._door(web, door, mail_id)
        except RpcError as exc:
            for outcome in (ACCESS, USER):
                if exc.name.endswith(f".{outcome}"):
                    return outcome, exc.message
            raise

    def _door(self, web, door, mail_id):
        if door in ("send", "send_after_commit", "mark_outgoing", "cancel"):
            return web.call_kw("mail.mail", door, [[mail_id]])
        if door.startswith("action_"):
            return web.call_button("mail.mail", door, [mail_id])
        if door == "reschedule_wizard":
            wizard = web.call_kw(
                "recruitment.mail.reschedule",
                "create",
                [{"mail_ids": [(6, 0, [mail_id])], "scheduled_date": _fmt(_now() + dt.timedelta(days=9))}],
            )
            return web.call_button("recruitment.mail.reschedule", "action_reschedule", [wizard])
        if door == "read":
            return web.call_kw("mail.mail", "read", [[mail_id], ["subject", "body_html"]])
        if door.startswith("message_"):
            message = self.messages[mail_id]
            if door == "message_unlink":
                return web.call_kw("mail.message", "unlink", [[message]])
            values = (
                {"author_id": self.partner["admin"]} if door == "message_write_author" else {"subject": "Rewritten"}
            )
            return web.call_kw("mail.message", "write", [[message], values])
        return web.call_kw("mail.mail", "write", [[mail_id], self.write_values(door)])

    def write_values(self, door):
        return {
            "write_outbox_fields": {
                "email_to": f"edited@{DOMAIN}",
                "email_cc": f"cc@{DOMAIN}",
                "subject": "Edited",
                "body_html": "<p>Edited</p>",
                "scheduled_date": self.later,
            },
            # another user's message: the administrator's password reset
            "write_mail_message_id": {"mail_message_id": self.system_message},
            "write_mail_user_id": {"mail_user_id": self.uids["user_a"]},
            "write_author_id": {"author_id": self.partner["user_a"]},
            "write_state": {"state": "outgoing"},
            "write_mail_server_id": {"mail_server_id": self.mail_server},
        }[door]

    def effect_holds(self, door, kind, mail_id, result, row):
        """What an allowed call did: ``row``, the email read back as the
        administrator (None: it is gone)."""
        if door in ("send", "send_after_commit"):
            # sent (system email is deleted once sent, as in stock)
            return self.received_for_address(mail_id) and (row is None or row["state"] == "sent")
        if door in ("action_delete", "message_unlink"):
            return row is None
        if door in ("action_reschedule", "read"):
            return result["res_model"] == "recruitment.mail.reschedule" if door != "read" else result[0]["subject"]
        return EFFECTS[door](self, row, kind)

    def snapshot_state(self, kind):
        return self.snapshot[self.pristine[kind]]["state"]

    def received_for_address(self, mail_id):
        return self.addresses.get(mail_id) in {rcpt for r in self.smtp.received for rcpt in r.rcpt_tos}


@pytest.fixture(scope="module")
def world(odoo_server, smtp_server):
    rpc = odoo_server.rpc
    crons = rpc.search("ir.cron", [("code", "like", "process_email_queue")])
    active = {row["id"]: row["active"] for row in rpc.read("ir.cron", crons, ["active"])}
    rpc.write("ir.cron", crons, {"active": False})  # only the probes send
    world = World(odoo_server, smtp_server)
    try:
        world.setup()
        yield world
    finally:
        # what is left waiting is not the next module's to send
        left = rpc.search("mail.mail", [("email_to", "like", f"%@{DOMAIN}"), ("state", "=", "outgoing")])
        if left:
            rpc.write("mail.mail", left, {"state": "cancel"})
        for cron_id, was_active in active.items():
            rpc.write("ir.cron", [cron_id], {"active": was_active})


def assert_pristine_untouched(world, rows=None):
    """The emails of the refused probes are as they were, and none was sent.
    ``rows``: what the caller read already (the pristine emails among them)."""
    rows = rows if rows is not None else {row["id"]: row for row in world.read(world.pristine.values())}
    for kind, mail_id in world.pristine.items():
        assert rows.get(mail_id) == world.snapshot[mail_id], f"the {kind} email was changed"
    sent = {world.addresses[mail_id] for mail_id in world.pristine.values()} & {
        rcpt for received in world.smtp.received for rcpt in received.rcpt_tos
    }
    assert not sent, f"refused, yet the SMTP server received {sorted(sent)}"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("door", EMAIL_DOORS)
def test_door_on_bea_and_system_email(world, door, role):
    """``door`` × ``role`` on Bea's queued, scheduled, failed and sent email and
    the administrator's password-reset email."""
    outcomes, allowed = {}, {}
    for kind in KINDS:
        want = expected(door, role, kind)
        mail_id = world.fresh[(door, role, kind)] if want == ALLOWED else world.pristine[kind]
        outcome, result = world.call(role, door, mail_id)
        outcomes[kind] = outcome
        if outcome == want == ALLOWED:
            allowed[kind] = (mail_id, result)
    assert outcomes == {kind: expected(door, role, kind) for kind in KINDS}
    # one read for both: what the allowed calls did, and that the refused ones did nothing
    rows = {row["id"]: row for row in world.read([*world.pristine.values(), *(m for m, _r in allowed.values())])}
    for kind, (mail_id, result) in allowed.items():
        assert world.effect_holds(door, kind, mail_id, result, rows.get(mail_id)), (
            f"{door} by {role} on the {kind} email: no effect"
        )
    assert_pristine_untouched(world, rows)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("door", MODEL_DOORS)
def test_door_on_the_model(world, door, role):
    want = expected_model_door(door, role)
    web = world.sessions[role]
    subject = f"{door} by {role}"
    try:
        if door == "process_email_queue":
            # the administrator's run sends only this email (ids), the cron's the rest
            target = world.queue_for_the_cron if want == ALLOWED else world.pristine["queued"]
            web.call_kw("mail.mail", "process_email_queue", [], {"ids": [target]})
        elif door == "create":
            web.call_kw(
                "mail.mail",
                "create",
                [
                    {
                        "subject": subject,
                        "email_to": f"created@{DOMAIN}",
                        "mail_message_id": world.messages[world.spare_system],
                    }
                ],
            )
        elif door == "jobs_by_email":
            wizard = web.call_kw(
                "recruitment.jobs.by.email",
                "create",
                [
                    {
                        "job_id": world.job,
                        "candidate_ids": [(6, 0, [world.candidate])],
                        "send_mode": "later",
                        "scheduled_date": world.later,
                        "force": True,
                    }
                ],
            )
            web.call_button("recruitment.jobs.by.email", "action_send", [wizard])
        else:
            context = {
                "default_composition_mode": "mass_mail",
                "default_model": "res.partner",
                "default_res_ids": [world.contact],
                "active_model": "res.partner",
                "active_ids": [world.contact],
            }
            composer = web.call_kw(
                "mail.compose.message",
                "create",
                [{"subject": subject, "body": "<p>News</p>", "send_later_date": world.later}],
                {"context": context},
            )
            web.call_button("mail.compose.message", "action_send_mail", [composer], context=context)
        outcome = ALLOWED
    except RpcError as exc:
        outcome = next((o for o in (ACCESS, USER) if exc.name.endswith(f".{o}")), exc.name)
    assert outcome == want
    rpc = world.rpc
    if door == "process_email_queue" and want == ALLOWED:
        assert world.received_for_address(world.queue_for_the_cron)
    elif door == "create" and want == ALLOWED:
        assert rpc.search("mail.mail", [("subject", "=", subject)])
    elif door in ("jobs_by_email", "composer") and want == ALLOWED:
        # the caller's own email, waiting for its date; nothing sent
        domain = [("job_id", "=", world.job)] if door == "jobs_by_email" else [("subject", "=", subject)]
        domain.append(("create_uid", "=", world.uids[role]))
        rows = rpc.search_read("mail.mail", domain, ["mail_user_id", "outbox_status"])
        assert rows and {(row["mail_user_id"][0], row["outbox_status"]) for row in rows} == {
            (world.uids[role], "scheduled")
        }
        assert not {rcpt for received in world.smtp.received for rcpt in received.rcpt_tos}
    assert_pristine_untouched(world)
