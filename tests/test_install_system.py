"""Installing on a database that already has email, and uninstalling again:
a real Odoo server, the add-on installed and removed through the Apps API."""

import time

import pytest

from conftest import MODULE, served
from rpc import RpcError
from test_outbox_system import queue_all


@pytest.fixture
def stock_server(harness, smtp_server):
    """Odoo with mail, contacts and hr_recruitment, without recruitment_mail."""
    db = harness.new_db_name()
    harness.run_odoo(db, "-i", "mail,contacts,hr_recruitment", "--without-demo=all", label="stock")
    with served(harness, db, smtp_server.port) as server:
        yield server


def module_state(rpc):
    return rpc.search_read("ir.module.module", [("name", "=", MODULE)], ["state"])[0]["state"]


def stock_module_operation(rpc, method, module_ids, timeout=120):
    """What an administrator does in stock Odoo, where recruitment_mail is not
    loaded yet: stock refuses a module operation while any cron runs, and the
    administrator tries again."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return rpc.execute_kw("ir.module.module", method, [module_ids])
        except RpcError as exc:
            if "processing a scheduled action" not in exc.message or time.monotonic() > deadline:
                raise
            time.sleep(1)


def test_install_links_existing_email_and_uninstall_leaves_stock_mail_working(stock_server, smtp_server):
    rpc = stock_server.rpc
    job = rpc.create("hr.job", {"name": "Warehouse Team Leader"})
    anna = rpc.create("res.partner", {"name": "Anna", "email": "anna@example.com"})
    about_job = rpc.create(
        "mail.mail",
        {
            "subject": "Before install",
            "email_to": "anna@example.com",
            "model": "hr.job",
            "res_id": job,
            "email_from": "jobs@agency.example.com",
            "body_html": "<p>x</p>",
            "state": "exception",
            "failure_reason": "old failure",
        },
    )

    module = rpc.search("ir.module.module", [("name", "=", MODULE)])
    stock_module_operation(rpc, "button_immediate_install", module)
    rpc.login()  # the registry was reloaded
    assert module_state(rpc) == "installed"
    mail = rpc.read("mail.mail", [about_job], ["job_id", "contact_ids", "outbox_status"])[0]
    assert mail["job_id"][0] == job
    assert mail["contact_ids"] == [anna]
    assert mail["outbox_status"] == "failed"
    # Settings > Parallel sending: a second lane is a cron of the add-on's
    settings = rpc.execute_kw("res.config.settings", "create", [{"recruitment_mail_sending_lanes": 2}])
    rpc.execute_kw("res.config.settings", "execute", [[settings]])
    assert len(rpc.search("ir.cron", [("code", "like", "recruitment_mail_lane=")])) == 1

    # Both lanes were just woken: with the add-on, the uninstall waits for
    # them instead of being refused ("Odoo is currently processing a
    # scheduled action"), however busy the machine.
    rpc.execute_kw("ir.module.module", "button_immediate_uninstall", [module])
    rpc.login()
    assert module_state(rpc) == "uninstalled"
    cron = rpc.read("ir.cron", [rpc.ref("mail.ir_cron_mail_scheduler_action")], ["interval_number", "interval_type"])[0]
    assert (cron["interval_number"], cron["interval_type"]) == (1, "hours")
    assert rpc.search("ir.cron", [("code", "like", "recruitment_mail_lane=")]) == [], "lanes go with the add-on"

    # stock Odoo still sends mail
    mail_id = rpc.create(
        "mail.mail",
        {
            "subject": "After uninstall",
            "email_to": "lea@example.com",
            "email_from": "jobs@agency.example.com",
            "body_html": "<p>y</p>",
        },
    )
    stock_server.run_mail_queue()
    messages = smtp_server.wait_for(1, timeout=30)
    assert [m["Subject"] for m in messages] == ["After uninstall"]
    time.sleep(0.5)
    assert len(smtp_server.messages) == 1
    assert not rpc.search("mail.mail", [("id", "=", mail_id), ("state", "!=", "sent")])


def test_an_update_of_the_add_on_keeps_the_queue_settings(odoo_server_factory):
    """Settings > Check the queue every 15 minutes, 2 sending lanes, queue
    cron switched off: an update of the add-on (make run updates it at every
    start) keeps all three."""
    server = odoo_server_factory()
    rpc = server.rpc
    queue_cron = rpc.ref("mail.ir_cron_mail_scheduler_action")
    rpc.write("ir.cron", [queue_cron], {"active": False})
    settings = rpc.execute_kw(
        "res.config.settings",
        "create",
        [{"recruitment_mail_queue_interval": 15, "recruitment_mail_sending_lanes": 2}],
    )
    rpc.execute_kw("res.config.settings", "execute", [[settings]])
    retention = rpc.ref("recruitment_mail.ir_cron_sent_mail_retention")
    rpc.write("ir.cron", [retention], {"interval_number": 2})
    server.stop()

    server.harness.run_odoo(server.db, "-u", MODULE, label="update")
    server.start()

    cron = rpc.read("ir.cron", [queue_cron], ["interval_number", "interval_type", "active"])[0]
    assert (cron["interval_number"], cron["interval_type"], cron["active"]) == (15, "minutes", False)
    values = rpc.execute_kw("res.config.settings", "default_get", [["recruitment_mail_sending_lanes"]])
    assert values["recruitment_mail_sending_lanes"] == 2
    lanes = rpc.search_read(
        "ir.cron", [("code", "like", "recruitment_mail_lane="), ("active", "in", [True, False])], ["active"]
    )
    assert [lane["active"] for lane in lanes] == [False], "the second lane is kept, switched off like the queue"
    assert rpc.read("ir.cron", [retention], ["interval_number"])[0]["interval_number"] == 2


def test_an_upgrade_during_a_long_drain_waits_for_the_queue_instead_of_being_refused(odoo_server_factory, smtp_server):
    """A queue run ends in time (half of the cron time limit here: 8 s) and
    the cron runs again; an administrator's upgrade meanwhile is not refused
    with "Odoo is currently processing a scheduled action": the queue yields
    and the upgrade runs. Every email arrives once."""
    server = odoo_server_factory(extra_args=("--limit-time-real-cron=16",))
    rpc = server.rpc
    smtp_server.data_delay = 0.15
    count = 120  # about 18 s of sending: more than two runs
    # One transaction: the cron, woken by each commit, would otherwise send
    # them in short runs while they are being created, none reaching its time.
    ids = queue_all(rpc, *[(f"Drain {n}", f"candidate{n}@example.com", {}) for n in range(count)])
    smtp_server.wait_for(5, timeout=120)  # the cron is sending
    module = rpc.search("ir.module.module", [("name", "=", MODULE)])
    rpc.execute_kw("ir.module.module", "button_immediate_upgrade", [module])
    rpc.login()
    assert module_state(rpc) == "installed"

    messages = smtp_server.wait_for(count, timeout=300)
    time.sleep(2)
    subjects = sorted(m["Subject"] for m in smtp_server.messages)
    assert subjects == sorted(f"Drain {n}" for n in range(count)), "each email once"
    assert len(messages) == count
    states = {m["state"] for m in rpc.read("mail.mail", ids, ["state"])}
    assert states == {"sent"}
    log = server.log_text()
    assert "Queue run ended in time" in log, "a run stopped at its time and the cron ran again"
    assert "virtual real time limit" not in log
