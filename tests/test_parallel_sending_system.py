"""Sending through a provider far away: several SMTP connections in one queue
run, PIPELINING, every recipient's fate still recorded, nothing sent twice.
A real Odoo server and a real SMTP server on 127.0.0.1 that delays its
replies by a round trip and counts the round trips and connections."""

import collections

import pytest

from rpc import RpcError
from test_outbox_system import queue_all, wait_until

FIELDS = ["outbox_status", "state", "failure_reason", "failure_summary", "next_attempt_date", "message_id"]


def set_connections(odoo_server, server_id, count):
    odoo_server.rpc.write("ir.mail_server", [server_id], {"smtp_connections": count})


@pytest.fixture
def mail_server(odoo_server, smtp_server):
    """The server's "Test SMTP" mail server; its Connections back to 1 afterwards
    (the Odoo server is shared by the tests of a module)."""
    server_id = odoo_server.configure_smtp(smtp_server.port)
    yield server_id
    set_connections(odoo_server, server_id, 1)


def statuses(rpc, ids):
    return {row["id"]: row for row in rpc.read("mail.mail", ids, FIELDS)}


def test_a_backlog_goes_through_several_pipelined_connections_once_each(odoo_server, smtp_server, mail_server):
    rpc = odoo_server.rpc
    set_connections(odoo_server, mail_server, 4)
    smtp_server.reply_delay = 0.02
    smtp_server.reject_replies["gone@example.com"] = "550 5.1.1 User unknown"
    smtp_server.reject_replies["busy@example.com"] = "451 4.7.1 Greylisted, try again later"
    smtp_server.reset_stats()
    *plain, partly, refused, deferred = queue_all(
        rpc,
        *[(f"Vacancy {n}", f"candidate{n}@example.com", {}) for n in range(40)],
        ("Shortlist", "anna@example.com, gone@example.com", {}),
        ("Nobody home", "gone@example.com", {}),
        ("Greylisted", "busy@example.com", {}),
    )

    odoo_server.run_mail_queue()
    every = [*plain, partly, refused, deferred]
    assert wait_until(
        lambda: all(row["state"] != "outgoing" or row["next_attempt_date"] for row in statuses(rpc, every).values())
    )
    rows = statuses(rpc, every)
    assert all(rows[mail_id]["outbox_status"] == "sent" for mail_id in plain)
    assert rows[partly]["outbox_status"] == "partial"
    assert "gone@example.com: 550 5.1.1 User unknown" in rows[partly]["failure_summary"]
    assert rows[refused]["outbox_status"] == "failed"
    assert "550 5.1.1 User unknown" in rows[refused]["failure_reason"]
    assert rows[deferred]["outbox_status"] == "queued" and rows[deferred]["next_attempt_date"]

    arrived = collections.Counter(smtp_server.message_ids())
    expected = [rows[mail_id]["message_id"] for mail_id in [*plain, partly]]
    assert sorted(arrived) == sorted(expected), "every sent email arrived, and nothing else"
    assert max(arrived.values()) == 1, "no email arrived twice"
    rpc.execute_kw("mail.mail", "action_delete", [[deferred]])  # not retried during the tests that follow
    stats = smtp_server.stats()
    assert 2 <= stats["max_connections"] <= 4, stats
    # PIPELINING: far fewer round trips than the 4 per email of one command at a time
    assert stats["round_trips"] / len(expected) < 2.5, stats


def test_a_server_without_pipelining_still_gets_every_email_once(odoo_server, smtp_server, mail_server):
    rpc = odoo_server.rpc
    set_connections(odoo_server, mail_server, 3)
    smtp_server.pipelining = False
    smtp_server.reject_replies["gone@example.com"] = "550 5.1.1 User unknown"
    *ids, partly = queue_all(
        rpc,
        *[(f"Interview {n}", f"candidate{n}@example.com", {}) for n in range(15)],
        ("Shortlist", "anna@example.com, gone@example.com", {}),
    )
    odoo_server.run_mail_queue()
    assert wait_until(lambda: all(row["state"] != "outgoing" for row in statuses(rpc, [*ids, partly]).values()))
    rows = statuses(rpc, [*ids, partly])
    assert all(rows[mail_id]["outbox_status"] == "sent" for mail_id in ids)
    assert rows[partly]["outbox_status"] == "partial"
    arrived = collections.Counter(smtp_server.message_ids())
    assert max(arrived.values()) == 1 and len(arrived) == 16


def test_connections_are_limited_per_server(odoo_server, mail_server):
    rpc = odoo_server.rpc
    set_connections(odoo_server, mail_server, 16)
    with pytest.raises(RpcError, match="Connections: from 1 to 16"):
        set_connections(odoo_server, mail_server, 17)
    with pytest.raises(RpcError, match="Connections: from 1 to 16"):
        set_connections(odoo_server, mail_server, 0)
    assert rpc.read("ir.mail_server", [mail_server], ["smtp_connections"])[0]["smtp_connections"] == 16


def test_the_batches_of_several_sender_addresses_share_the_same_connections(odoo_server, smtp_server, mail_server):
    """Stock's send() makes one batch per sender address, and connects and QUITs for each; the
    queue run keeps its sessions and sender threads from one batch to the next (the next batch
    is built while the senders end the one before). Three recruiters' emails go through the
    same three connections, each from its own sender, each once."""
    rpc = odoo_server.rpc
    set_connections(odoo_server, mail_server, 3)
    smtp_server.reply_delay = 0.02
    senders = ["anna@agency.example.com", "ben@agency.example.com", "chloe@agency.example.com"]
    smtp_server.reset_stats()
    ids = queue_all(
        rpc,
        *[
            (f"Vacancy {n}", f"candidate{n}@example.com", {"email_from": f"Recruiter <{senders[n % 3]}>"})
            for n in range(30)
        ],
    )

    odoo_server.run_mail_queue()
    assert wait_until(lambda: all(row["state"] != "outgoing" for row in statuses(rpc, ids).values()))
    rows = statuses(rpc, ids)
    assert all(row["outbox_status"] == "sent" for row in rows.values())
    envelopes = smtp_server.envelope_senders()
    assert collections.Counter(smtp_server.message_ids()) == collections.Counter(
        row["message_id"] for row in rows.values()
    ), "every email arrived once, and nothing else"
    for position, mail_id in enumerate(ids):
        assert envelopes[rows[mail_id]["message_id"]] == senders[position % 3], "each from its own sender"
    stats = smtp_server.stats()
    assert stats["connections"] <= 3, f"one set of connections for the three batches: {stats}"
