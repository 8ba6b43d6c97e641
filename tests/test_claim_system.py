"""Claim before side effects: no other module's hook runs for an email that
this worker has not claimed, so racing workers leave no records behind. The
probe module (tests/addons/recruitment_mail_hook_probe) records each time its
build hook runs, as mail_tracking records a tracking row."""

from pathlib import Path

import psycopg2
import pytest

from conftest import served
from test_outbox_system import queue, wait_until

PROBE_ADDONS = Path(__file__).resolve().parent / "addons"


@pytest.fixture
def probe_server(harness, template_db, smtp_server):
    db = harness.new_db_name()
    harness.copy_db(template_db, db)
    addons = f"--addons-path={harness.addons_path},{PROBE_ADDONS}"
    harness.run_odoo(db, addons, "-i", "recruitment_mail_hook_probe", label="probe-install")
    with served(harness, db, smtp_server.port, extra_args=(addons,)) as server:
        yield server


def probes(rpc, mail_id):
    rows = rpc.search_read("recruitment.mail.hook.probe", [("mail_id", "=", mail_id)], ["hook"])
    return sorted(row["hook"] for row in rows)


def test_a_worker_builds_nothing_for_an_email_another_worker_holds(probe_server, smtp_server):
    rpc = probe_server.rpc
    # scheduled for later, so that no queue run takes them before the other worker does
    later = "2099-01-01 00:00:00"
    held = queue(rpc, "Held by another worker", "anna@example.com", scheduled_date=later)
    free = queue(rpc, "Free", "ben@example.com", scheduled_date=later)
    # Another worker: a live database connection that claimed the first email
    # (as a queue run does) and holds its row.
    other = psycopg2.connect(dbname=probe_server.db)
    try:
        with other.cursor() as cr:
            cr.execute(
                "UPDATE mail_mail SET sending_claim_pid = pg_backend_pid(), sending_claimed_at = now() "
                "AT TIME ZONE 'UTC' WHERE id = %s",
                (held,),
            )
        other.commit()
        rpc.write("mail.mail", [held, free], {"scheduled_date": False})  # due now
        probe_server.run_mail_queue()
        assert wait_until(lambda: rpc.read("mail.mail", [free], ["state"])[0]["state"] == "sent")
        probe_server.run_mail_queue()
        assert rpc.read("mail.mail", [held], ["state"])[0]["state"] == "outgoing", "the other worker's"
        assert probes(rpc, held) == [], "no hook ran for an email this worker did not claim"
        assert probes(rpc, free) == ["_send", "build"]
        # an immediate send (stock's force_send path) leaves it alone too
        rpc.execute_kw("mail.mail", "send", [[held]])
        assert probes(rpc, held) == ["_send"], "only the _send override of the probe saw it, nothing was built"
        assert rpc.read("mail.mail", [held], ["state"])[0]["state"] == "outgoing"
    finally:
        other.close()  # the other worker dies: its claim lapses with its connection

    probe_server.run_mail_queue()
    assert wait_until(lambda: rpc.read("mail.mail", [held], ["state"])[0]["state"] == "sent")
    assert probes(rpc, held).count("build") == 1, "built once, by the worker that sent it"
    subjects = [m["Subject"] for m in smtp_server.messages]
    assert subjects.count("Held by another worker") == 1
    assert subjects.count("Free") == 1
