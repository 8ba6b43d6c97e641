"""Odoo side of the list benchmark (driven by lists_bench.py).

    lists_worker.py generate --db DB --size N
        Fill the database with N emails (lists_data.py) and, in ours, check a
        sample of the generated rows against the add-on's own compute methods.

    lists_worker.py measure --db DB --side stock|ours --user officer|admin
        Time what the web client asks the server for when a user opens each
        list, and what the queue cron does when there is (almost) nothing to
        send; capture EXPLAIN (ANALYZE, BUFFERS) of every statement on the
        mail tables. Everything runs in one transaction that is rolled back.

Timing: time.perf_counter() around the ORM call, in-process, as the user the
list is opened by; the record cache is emptied before each call
(env.invalidate_all()), the registry's caches and PostgreSQL's buffers are
warm (2 untimed calls first), as on a server in use. The figure is the median
of BENCH_REPEAT (default 10) calls. JSON-RPC and rendering are not included:
they cost the same in both setups.

The calls are built from the add-on's own actions and views (domain, filter
"My mail", list columns, default order) and the cron's own methods, so the
benchmark follows the add-on when those change.
"""

from __future__ import annotations

import argparse
import os
import re
import time

from benchlib import QueryRecorder, emit, median, normalize_sql, odoo_env, out_dir

BIG_TABLES = ("mail_mail", "mail_message", "mail_mail_contact_rel", "mail_mail_res_partner_rel")
LIST_LIMIT = 80  # the web client's page size for a list view
X2MANY_LIMIT = 40  # ... and for a list inside a form (the Email tab)
COUNT_LIMIT = 10001  # the web client's count_limit for list views
CRON_BATCH = 1000  # the batch size the queue cron passes (mail's ir_cron_data.xml)


# --- building the web client's calls ---------------------------------------------------


def view_arch(env, model, xmlid, view_type):
    from lxml import etree

    view = env.ref(xmlid)
    views = env[model].get_views([(view.id, view_type)])
    return etree.fromstring(views["views"][view_type]["arch"])


def list_call(env, model, xmlid):
    """(specification, order) the web client sends for a list view: one entry per
    column, many2one columns with their display_name, the view's default order."""
    arch = view_arch(env, model, xmlid, "list")
    fields = env[model]._fields
    spec = {}
    for node in arch.iterchildren("field"):
        name = node.get("name")
        field = fields[name]
        if field.type == "many2one":
            invisible = node.get("invisible") in ("True", "1")
            spec[name] = {"fields": {} if invisible else {"display_name": {}}}
        elif field.type in ("one2many", "many2many") and node.get("widget") == "many2many_tags":
            spec[name] = {"fields": {"display_name": {}}}
        else:
            spec[name] = {}
    order = arch.get("default_order") or ""
    return spec, order


def search_filter(env, model, xmlid, name, uid):
    """The domain of filter ``name`` of a search view, evaluated for ``uid``."""
    from odoo.tools.safe_eval import safe_eval

    arch = view_arch(env, model, xmlid, "search")
    node = arch.find(f".//filter[@name='{name}']")
    if node is None:
        raise LookupError(f"no filter {name!r} in {xmlid}")
    return safe_eval(node.get("domain"), {"uid": uid})


def action_domain(env, xmlid):
    from odoo.tools.safe_eval import safe_eval

    return safe_eval(env.ref(xmlid).domain or "[]")


def web_context(env, uid, extra=None):
    context = {
        "lang": "en_US",
        "tz": "Europe/Brussels",
        "uid": uid,
        "allowed_company_ids": [env.company.id],
        "bin_size": True,
    }
    context.update(extra or {})
    return context


def list_scenario(model_env, domain, spec, order):
    def call():
        return model_env.web_search_read(domain, spec, offset=0, limit=LIST_LIMIT, order=order, count_limit=COUNT_LIMIT)

    return call


def scenarios_ours(env, uid, hot_contact):
    """[(key, title, call)] for ours, as user ``uid``."""
    user_env = env(user=uid, context=web_context(env, uid, {"search_default_my_mail": 1}))
    Mail = user_env["mail.mail"]
    mine = search_filter(env, "mail.mail", "recruitment_mail.mail_mail_view_search_outbox", "my_mail", uid)
    outbox = action_domain(env, "recruitment_mail.mail_mail_action_outbox")
    sent = action_domain(env, "recruitment_mail.mail_mail_action_sent")
    outbox_spec, outbox_order = list_call(env, "mail.mail", "recruitment_mail.mail_mail_view_tree_outbox")
    sent_spec, sent_order = list_call(env, "mail.mail", "recruitment_mail.mail_mail_view_tree_sent")
    tab_spec, tab_order = list_call(env, "mail.mail", "recruitment_mail.mail_mail_view_tree_contact")
    partner = user_env["res.partner"].browse(hot_contact)

    def email_tab():
        # the contact form's read of its Email tab: the tab's list (first page
        # of the x2many, in the list's default order) and the smart button's count
        return partner.web_read(
            {
                "contact_mail_ids": {
                    "fields": tab_spec,
                    "limit": X2MANY_LIMIT,
                    "order": tab_order,
                    "context": {"list_view_ref": "recruitment_mail.mail_mail_view_tree_contact"},
                },
                "contact_mail_count_label": {},
            }
        )

    return [
        ("outbox_mine", "Outbox, my mail", list_scenario(Mail, outbox + mine, outbox_spec, outbox_order)),
        ("outbox_all", "Outbox, everyone", list_scenario(Mail, outbox, outbox_spec, outbox_order)),
        ("sent_mine", "Sent items, my mail", list_scenario(Mail, sent + mine, sent_spec, sent_order)),
        ("sent_all", "Sent items, everyone", list_scenario(Mail, sent, sent_spec, sent_order)),
        ("email_tab", "Email tab of a contact with 10,000 emails", email_tab),
    ]


def scenarios_stock(env, uid, hot_contact):
    """Stock Odoo's nearest equivalent: Settings > Technical > Emails (mail.mail's
    own list and search view), filtered the same way. Only administrators can
    open it: stock gives other users no access to mail.mail."""
    user_env = env(user=uid, context=web_context(env, uid))
    Mail = user_env["mail.mail"]
    author = [("author_id", "=", env["res.users"].browse(uid).partner_id.id)]
    view = "mail.view_mail_search"
    outgoing = search_filter(env, "mail.mail", view, "outgoing", uid)
    failed = search_filter(env, "mail.mail", view, "exception", uid)
    sent = search_filter(env, "mail.mail", view, "sent", uid)
    outbox = ["|", *outgoing, *failed]  # two filters of one group: OR
    spec, order = list_call(env, "mail.mail", "mail.view_mail_tree")
    recipient = [("recipient_ids", "in", [hot_contact])]
    return [
        ("outbox_mine", "Outbox, my mail", list_scenario(Mail, outbox + author, spec, order)),
        ("outbox_all", "Outbox, everyone", list_scenario(Mail, outbox, spec, order)),
        ("sent_mine", "Sent items, my mail", list_scenario(Mail, sent + author, spec, order)),
        ("sent_all", "Sent items, everyone", list_scenario(Mail, sent, spec, order)),
        ("email_tab", "Email tab of a contact with 10,000 emails", list_scenario(Mail, recipient, spec, order)),
    ]


def cron_scenarios(env, side):
    """What process_email_queue does before it sends anything, as the cron's
    user (superuser): with no due email beyond one batch, that is all it does."""
    Mail = env["mail.mail"]
    if side == "stock":
        import datetime

        def domain():
            return [
                "&",
                ("state", "=", "outgoing"),
                "|",
                ("scheduled_date", "=", False),
                ("scheduled_date", "<=", datetime.datetime.utcnow()),
            ]

        return [
            ("cron_pick", "Queue cron: pick due mail", lambda: Mail.search(domain(), limit=CRON_BATCH).ids),
            ("cron_count", "Queue cron: count due mail", lambda: Mail.search_count(domain())),
        ]
    for method in ("_promote_due_scheduled", "_pick_due_ids", "_count_due"):
        if not hasattr(Mail, method):
            raise AttributeError(f"mail.mail.{method} is gone from the add-on: update bench/lists_worker.py")
    scenarios = [
        ("cron_promote", "Queue cron: promote due scheduled mail", Mail._promote_due_scheduled),
        ("cron_pick", "Queue cron: pick due mail", lambda: Mail._pick_due_ids(CRON_BATCH)),
        ("cron_count", "Queue cron: count due mail", Mail._count_due),
    ]
    server = env["ir.mail_server"].search([("name", "=", "Bench SMTP sink")])
    if hasattr(server, "_sending_capacity") and "max_per_hour" in server._fields:
        # Sending limits (if a server has them) are checked per sender batch
        # with a count over the mail handed to the server in the last hour.
        server.write({"max_per_minute": 1000, "max_per_hour": 10000})  # rolled back with the rest
        server.flush_recordset()
        scenarios.append(("cron_capacity", "Queue cron: sending-limit check, per batch", server._sending_capacity))
    return scenarios


# --- EXPLAIN ------------------------------------------------------------------------


def plan_scans(plan, found=None):
    """Every node that reads a table: (node type, table, index, rows read, rows
    thrown away by its filter)."""
    found = [] if found is None else found
    if "Relation Name" in plan:
        loops = plan.get("Actual Loops", 1)
        found.append(
            {
                "node": plan["Node Type"] + (" Backward" if plan.get("Scan Direction") == "Backward" else ""),
                "table": plan["Relation Name"],
                "index": plan.get("Index Name"),
                "rows": plan.get("Actual Rows", 0) * loops,
                "removed": (plan.get("Rows Removed by Filter", 0) + plan.get("Rows Removed by Index Recheck", 0))
                * loops,
                "loops": loops,
            }
        )
    elif plan.get("Node Type") == "Bitmap Index Scan":
        found.append(
            {
                "node": "Bitmap Index Scan",
                "table": None,
                "index": plan.get("Index Name"),
                "rows": plan.get("Actual Rows", 0),
                "removed": 0,
                "loops": plan.get("Actual Loops", 1),
            }
        )
    for child in plan.get("Plans", ()):
        plan_scans(child, found)
    return found


def explain(cr, query, params):
    """EXPLAIN (ANALYZE, BUFFERS) of one statement: text plan, time, and the scans."""
    cr.execute("SAVEPOINT bench_explain")
    try:
        cr.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {query}", params)
        data = cr.fetchone()[0][0]
        cr.execute(f"EXPLAIN (ANALYZE, BUFFERS) {query}", params)
        text = "\n".join(row[0] for row in cr.fetchall())
    finally:
        cr.execute("ROLLBACK TO SAVEPOINT bench_explain")
    plan = data["Plan"]
    sql = cr.mogrify(query, params).decode()
    scans = plan_scans(plan)
    big = [s for s in scans if s["table"] in BIG_TABLES]
    seq = [s for s in big if s["node"].startswith("Seq Scan")]
    return {
        "sql": normalize_sql(query),
        "ms": data.get("Execution Time"),
        "planning_ms": data.get("Planning Time"),
        "shared_hit": plan.get("Shared Hit Blocks", 0),
        "shared_read": plan.get("Shared Read Blocks", 0),
        "scans": scans,
        "access": "seq scan" if seq else ("index" if big else "no mail table"),
        "rows_read": sum(s["rows"] + s["removed"] for s in big if s["table"]),
        "rows_removed": sum(s["removed"] for s in big),
        "text": text,
        "statement": sql,
    }


def touches_mail_tables(query):
    return re.search(r'\b"?(mail_mail|mail_mail_contact_rel|mail_mail_res_partner_rel)"?\b', query) is not None


# --- commands ------------------------------------------------------------------------


def cmd_generate(args):
    from lists_data import generate

    with odoo_env(args.db, args.odoo_log) as env:
        start = time.perf_counter()
        info = generate(env.cr, args.size)
        env.cr.commit()
        info["seconds"] = time.perf_counter() - start
        if info["contact_rel"]:
            info["checked"] = check_against_computes(env, info)
            env.cr.rollback()
        emit(info)


def check_against_computes(env, info):
    """Recompute ours' stored fields for a sample of generated mail with the
    add-on's own code and compare: the benchmark must measure the rows Odoo
    would have stored."""
    env.cr.execute("""
        (SELECT id FROM mail_mail WHERE state = 'sent' ORDER BY id DESC LIMIT 50)
        UNION ALL (SELECT id FROM mail_mail WHERE state = 'exception' ORDER BY id DESC LIMIT 50)
        UNION ALL (SELECT id FROM mail_mail WHERE outbox_status = 'queued' ORDER BY id DESC LIMIT 50)
        UNION ALL (SELECT id FROM mail_mail WHERE outbox_status = 'scheduled' ORDER BY id DESC LIMIT 50)""")
    ids = list(dict.fromkeys(row[0] for row in env.cr.fetchall()))
    Mail = env["mail.mail"]
    names = [
        name
        for name in ("outbox_status", "mail_user_id", "is_system_mail", "recipients_display", "company_id")
        if name in Mail._fields
    ]
    stored = {mail["id"]: mail for mail in Mail.browse(ids).read(names + ["contact_ids"], load=None)}
    env.invalidate_all()
    mails = Mail.browse(ids)
    for name in names:
        env.add_to_compute(Mail._fields[name], mails)
    computed = {mail.id: {name: mail[name] for name in names} for mail in mails}
    contexts = mails._context_values() if hasattr(mails, "_context_values") else {}
    problems = []
    for mail in mails:
        for name in names:
            value = computed[mail.id][name]
            value = value.id if hasattr(value, "_name") else value
            if value != stored[mail.id][name]:
                problems.append(f"mail {mail.id}: {name} stored {stored[mail.id][name]!r}, computed {value!r}")
        if contexts:
            expected = sorted(contexts[mail.id].get("contact_ids", [[6, 0, []]])[0][2])
            if expected != sorted(stored[mail.id]["contact_ids"]):
                problems.append(
                    f"mail {mail.id}: contact_ids stored {stored[mail.id]['contact_ids']}, computed {expected}"
                )
    if problems:
        raise AssertionError("generated rows differ from what the add-on computes:\n" + "\n".join(problems[:20]))
    return len(ids)


def cmd_measure(args):
    repeat = int(os.environ.get("BENCH_REPEAT", "10"))
    with odoo_env(args.db, args.odoo_log) as env:
        env.cr.execute("SELECT id FROM res_partner WHERE name = 'Contact 00000'")
        hot_contact = env.cr.fetchone()[0]
        if args.user == "admin":
            uid = env.ref("base.user_admin").id
        else:
            uid = env["res.users"].search([("login", "=", "bench_recruiter_01")]).id
        scenarios = (scenarios_stock if args.side == "stock" else scenarios_ours)(env, uid, hot_contact)
        if args.user == "admin":
            # the cron runs as its own user: measured once per database
            scenarios += cron_scenarios(env, args.side)
        results = {}
        explain_dir = out_dir() / "explain"
        explain_dir.mkdir(exist_ok=True)
        for key, title, call in scenarios:
            for _ in range(2):  # warm the registry's caches and PostgreSQL's buffers
                env.invalidate_all()
                call()
            times = []
            queries = 0
            for _ in range(repeat):
                env.invalidate_all()
                with QueryRecorder() as recorder:
                    start = time.perf_counter()
                    call()
                    times.append(1000 * (time.perf_counter() - start))
                queries = recorder.count
            env.invalidate_all()
            with QueryRecorder(keep=True) as recorder:
                call()
            plans = [
                explain(env.cr, text, params)
                for text, params, _delay in recorder.queries
                if touches_mail_tables(text) and text.lstrip().upper().startswith(("SELECT", "UPDATE", "WITH"))
            ]
            with open(explain_dir / f"{args.db}-{args.user}-{key}.txt", "w") as fh:
                for plan in plans:
                    fh.write(f"{plan['statement']};\n\n{plan['text']}\n\n")
            for plan in plans:
                del plan["text"], plan["statement"]
            results[key] = {
                "title": title,
                "median_ms": median(times),
                "min_ms": min(times),
                "max_ms": max(times),
                "queries": queries,
                "plans": plans,
            }
        env.cr.rollback()
        emit(
            {
                "side": args.side,
                "user": args.user,
                "uid": uid,
                "repeat": repeat,
                "results": results,
            }
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    generate = sub.add_parser("generate")
    generate.add_argument("--size", type=int, required=True)
    measure = sub.add_parser("measure")
    measure.add_argument("--side", choices=("stock", "ours"), required=True)
    measure.add_argument("--user", choices=("officer", "admin"), required=True)
    for p in (generate, measure):
        p.add_argument("--db", required=True)
        p.add_argument("--odoo-log", required=True)
    args = parser.parse_args()
    {"generate": cmd_generate, "measure": cmd_measure}[args.command](args)


if __name__ == "__main__":
    main()
