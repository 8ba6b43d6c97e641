"""Installing on a database that already has email, and uninstalling again:
a real Odoo server, the add-on installed and removed through the Apps API."""

import subprocess
import time

import pytest

from conftest import MODULE, OdooServer, _tail


@pytest.fixture
def stock_server(harness, smtp_server):
    """Odoo with mail, contacts and hr_recruitment, without recruitment_mail."""
    db = harness.new_db_name()
    logfile = harness.log_dir / f"odoo-{db}-stock.log"
    proc = subprocess.run(
        [
            *harness.base_args(db),
            "-i",
            "mail,contacts,hr_recruitment",
            "--without-demo=all",
            "--stop-after-init",
            "--no-http",
            "--max-cron-threads=0",
            f"--logfile={logfile}",
        ],
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, _tail(logfile)
    server = OdooServer(harness, db, smtp_server.port)
    try:
        server.start()
        server.configure_smtp(smtp_server.port)
        yield server
    finally:
        server.stop()
        harness.drop_db(db)


def module_state(rpc):
    return rpc.search_read("ir.module.module", [("name", "=", MODULE)], ["state"])[0]["state"]


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
    rpc.execute_kw("ir.module.module", "button_immediate_install", [module])
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
