"""Odoo side of the list benchmark (driven by lists_bench.py).

    lists_worker.py generate --db DB --size N
        Fill the database with N emails (lists_data.py) and, in ours, check a
        sample of the generated rows against the add-on's own compute methods.

    lists_worker.py measure --db DB --side stock|ours --user officer|admin --label L
                            [--without-company-rule]
        Time what the web client asks the server for when a user opens each
        list, and what the queue cron does when there is (almost) nothing to
        send; capture EXPLAIN (ANALYZE, BUFFERS) of every statement on the
        mail tables. Everything runs in one transaction that is rolled back,
        including the what-if that switches ours' company record rule off.

    lists_worker.py indexes --db DB
        Create the candidate indexes (candidate_indexes()), replacing the
        add-on's own index of the same name where it differs, and ANALYZE.

Timing: time.perf_counter() around the ORM call, in-process, as the user the
list is opened by; the record cache is emptied before each call
(env.invalidate_all()), the registry's caches and PostgreSQL's buffers are
warm (2 untimed calls first), as on a server in use. The figure is the median
of BENCH_REPEAT (default 10) calls. JSON-RPC and rendering are not included:
they cost the same in both setups.

The calls are built from the add-on's own actions and views (domain, filter
"My mail", list columns, default order), so the benchmark follows the add-on
when those change.
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


# Indexes tried on top of ours. Where the add-on already creates an index for
# the same purpose (its init()), the candidate has the same name and replaces
# it; an identical one is left alone. The partial indexes hold only the rows a
# list shows; INCLUDE carries the columns the record rules test, so that
# counting a list's rows can be an index-only scan instead of a visit to every
# heap page those rows are on.
def candidate_indexes(cr):
    outbox = "WHERE outbox_status IN ('queued', 'scheduled', 'failed')"
    sent = "WHERE outbox_status = 'sent'"
    return {
        "mail_mail_rm_outbox_user_idx": "ON mail_mail (mail_user_id, id DESC) INCLUDE (is_system_mail, mail_message_id) "
        + outbox,
        "mail_mail_rm_outbox_idx": "ON mail_mail (id DESC) INCLUDE (mail_user_id, is_system_mail, mail_message_id) "
        + outbox,
        "mail_mail_rm_sent_user_idx": "ON mail_mail (mail_user_id, date_sent DESC, id DESC) INCLUDE (is_system_mail, mail_message_id) "
        + sent,
        "mail_mail_rm_sent_idx": "ON mail_mail (date_sent DESC, id DESC) INCLUDE (mail_user_id, is_system_mail, mail_message_id) "
        + sent,
        "mail_mail_rm_rules_idx": "ON mail_mail (id) INCLUDE (mail_user_id, is_system_mail, mail_message_id)",
        "mail_message_rm_company_idx": "ON mail_message (id) INCLUDE (record_company_id)",
        "mail_mail_rm_due_idx": f"ON mail_mail (({due_expression(cr)}), id) WHERE state = 'outgoing'",
        "mail_mail_rm_scheduled_idx": "ON mail_mail (scheduled_date) WHERE outbox_status = 'scheduled'",
        "mail_mail_rm_server_attempt_idx": "ON mail_mail (smtp_server_id, last_attempt_date) WHERE smtp_server_id IS NOT NULL",
    }


def index_definition(cr, name):
    cr.execute("SELECT pg_get_indexdef(to_regclass(%s))", (name,))
    return cr.fetchone()[0]


def due_expression(cr):
    """The moment a queued mail becomes due, as the add-on's _pick_due_ids
    orders by it (next_attempt_date exists once the add-on retries)."""
    cr.execute("""SELECT 1 FROM information_schema.columns
                   WHERE table_name = 'mail_mail' AND column_name = 'next_attempt_date'""")
    return (
        "COALESCE(next_attempt_date, scheduled_date, create_date)"
        if cr.fetchone()
        else "COALESCE(scheduled_date, create_date)"
    )


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
    mine = search_filter(env, "mail.mail", "recruitment_mail.view_mail_outbox_search", "my_mail", uid)
    outbox = action_domain(env, "recruitment_mail.action_outbox")
    sent = action_domain(env, "recruitment_mail.action_sent_items")
    outbox_spec, outbox_order = list_call(env, "mail.mail", "recruitment_mail.view_mail_outbox_list")
    sent_spec, sent_order = list_call(env, "mail.mail", "recruitment_mail.view_mail_sent_list")
    tab_spec, tab_order = list_call(env, "mail.mail", "recruitment_mail.view_mail_contact_list")
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
                    "context": {"list_view_ref": "recruitment_mail.view_mail_contact_list"},
                },
                "contact_mail_count": {},
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


def cron_scenarios(env, side, proposals=False):
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
    if proposals:
        # The add-on's own queries with one more condition, implied by the
        # others (a due mail's due moment is in the past), that lets
        # PostgreSQL read mail_mail_due_idx from its start to "now" only.
        from odoo import fields

        due = due_expression(env.cr)
        where = f"{Mail._DUE_WHERE} AND {due} <= %(now)s"

        def pick():
            env.cr.execute(
                f"SELECT id FROM mail_mail WHERE {where} ORDER BY {due}, id LIMIT %(limit)s",
                {"now": fields.Datetime.now(), "limit": CRON_BATCH},
            )
            return env.cr.fetchall()

        def count():
            env.cr.execute(f"SELECT count(*) FROM mail_mail WHERE {where}", {"now": fields.Datetime.now()})
            return env.cr.fetchone()

        scenarios += [
            ("cron_pick_bounded", "Queue cron: pick due mail, bounded query (proposal)", pick),
            ("cron_count_bounded", "Queue cron: count due mail, bounded query (proposal)", count),
        ]
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
        for name in ("outbox_status", "mail_user_id", "is_system_mail", "recipients_display")
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


def cmd_indexes(args):
    """Create each candidate index, or replace the add-on's index of that name
    when it differs; report what was done, with the index's size."""
    with odoo_env(args.db, args.odoo_log) as env:
        cr = env.cr
        done = {}
        for name, definition in candidate_indexes(cr).items():
            start = time.perf_counter()
            cr.execute(f"CREATE INDEX bench_candidate {definition}")
            seconds = time.perf_counter() - start
            candidate = index_definition(cr, "bench_candidate").replace("bench_candidate", name)
            existing = index_definition(cr, name)
            if existing == candidate:
                cr.execute("DROP INDEX bench_candidate")
                status = "already in the add-on"
            else:
                if existing:
                    cr.execute(f'DROP INDEX "{name}"')
                cr.execute(f'ALTER INDEX bench_candidate RENAME TO "{name}"')
                status = f"replaces the add-on's {existing}" if existing else "new"
            cr.execute("SELECT pg_relation_size(%s::regclass)", (name,))
            done[name] = {
                "statement": f"CREATE INDEX {name} {definition}",
                "status": status,
                "bytes": cr.fetchone()[0],
                "build_seconds": seconds,
            }
        cr.execute("ANALYZE mail_mail")
        cr.execute("ANALYZE mail_message")
        cr.commit()
        emit(done)


def cmd_measure(args):
    repeat = int(os.environ.get("BENCH_REPEAT", "10"))
    with odoo_env(args.db, args.odoo_log) as env:
        env.cr.execute("SELECT id FROM res_partner WHERE name = 'Contact 00000'")
        hot_contact = env.cr.fetchone()[0]
        if args.user == "admin":
            uid = env.ref("base.user_admin").id
        else:
            uid = env["res.users"].search([("login", "=", "bench_recruiter_01")]).id
        if args.without_company_rule:
            # What-if: the company check no longer needs mail_message (rolled back below)
            env.ref("recruitment_mail.rule_mail_company").active = False
            env.flush_all()
        scenarios = (scenarios_stock if args.side == "stock" else scenarios_ours)(env, uid, hot_contact)
        if args.user == "admin" and not args.without_company_rule:
            # the cron runs as its own user: measured once per database state
            scenarios += cron_scenarios(env, args.side, proposals=args.label != "baseline")
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
            with open(explain_dir / f"{args.db}-{args.user}-{args.label}-{key}.txt", "w") as fh:
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
                "label": args.label,
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
    measure.add_argument("--label", default="baseline")
    measure.add_argument(
        "--without-company-rule",
        action="store_true",
        help="what-if: measure with ours' company record rule switched off",
    )
    indexes = sub.add_parser("indexes")
    for p in (generate, measure, indexes):
        p.add_argument("--db", required=True)
        p.add_argument("--odoo-log", required=True)
    args = parser.parse_args()
    {"generate": cmd_generate, "measure": cmd_measure, "indexes": cmd_indexes}[args.command](args)


if __name__ == "__main__":
    main()
