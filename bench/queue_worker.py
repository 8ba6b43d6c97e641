"""Odoo side of the queue throughput benchmark (driven by queue_bench.py).

    queue_worker.py queue --db DB --count N --port P --batch B [--senders S] [--auto-delete]
                          [--smtp-connections C]
        Queue N emails the way Odoo's composer does (mail.mail created through
        the ORM as superuser, written by one of S authors, 20 by default, each
        sending from their own address): a 2 KB HTML body, one recipient in
        email_to. Points the "Bench SMTP sink" mail server at 127.0.0.1:P and
        sets mail.mail.queue.batch.size to B (how many emails one run of the
        queue cron sends), the same in both setups. --smtp-connections C sets
        the server's Connections (and recruitment_mail.smtp_connections) when
        the add-on has that field; stock has none and ignores it.

    queue_worker.py drain --db DB [--keep-queries] [--lane K]
        Run the queue cron (mail.ir_cron_mail_scheduler_action, through
        ir.cron.method_direct_trigger, i.e. the cron's own server action with
        its progress record, as its user) until no due email is left, with
        real commits. Reports emails/s, SQL statements and commits per email
        and the process's RSS. --keep-queries also returns every statement,
        grouped by shape, for the per-email breakdown. --lane K runs the cron
        of sending lane K instead (recruitment_mail's Parallel sending; one
        drain process per lane, side by side, as cron workers would).

The queue and the drain run in separate processes so the drain's peak RSS is
not inflated by creating the records.
"""

from __future__ import annotations

import argparse
import time

from benchlib import CommitCounter, QueryRecorder, emit, normalize_sql, odoo_env, peak_rss_mb, rss_now_mb, sql_label

MAIL_SERVER_NAME = "Bench SMTP sink"
BATCH = 500

# About 2 KB of HTML, like a short templated email with a signature.
_PARAGRAPH = (
    "<p>Thank you for your application. We would like to invite you to an interview "
    "with our client to discuss the position in more detail. Please let us know which "
    "of the proposed dates suits you best, and bring a copy of your references.</p>"
)


def body_html(n: int) -> str:
    head = f"<div><p>Dear Candidate {n},</p>"
    tail = "<p>Kind regards,<br/>The recruitment team<br/>Bench Agency, 1 Example Street, Example City</p></div>"
    body = head + _PARAGRAPH * 7 + tail
    return body[:2048] if len(body) > 2048 else body + " " * (2048 - len(body))


def authors(env):
    users = env["res.users"].search([("login", "=like", "bench_recruiter_%")], order="login")
    return env.ref("base.user_admin") | users


def cmd_queue(args):
    with odoo_env(args.db, args.odoo_log) as env:
        server = env["ir.mail_server"].search([("name", "=", MAIL_SERVER_NAME)])
        server.write({"smtp_host": "127.0.0.1", "smtp_port": args.port})
        env["ir.config_parameter"].set_param("mail.mail.queue.batch.size", str(args.batch))
        if args.smtp_connections:
            # recruitment_mail's Connections of a mail server (issue #16), when this version has it
            if "smtp_connections" in server.fields_get(["smtp_connections"]):
                server.write({"smtp_connections": args.smtp_connections})
                env["ir.config_parameter"].set_param("recruitment_mail.smtp_connections", str(args.smtp_connections))
        if args.lanes > 1:
            # Settings > Parallel sending (recruitment_mail only)
            env["ir.config_parameter"].set_param("recruitment_mail.sending_lanes", str(args.lanes))
            env["mail.mail"]._sync_sending_lanes()
        people = authors(env)[: args.senders]
        start = time.perf_counter()
        for first in range(0, args.count, BATCH):
            vals_list = []
            for n in range(first, min(first + BATCH, args.count)):
                author = people[n % len(people)]
                vals_list.append(
                    {
                        "subject": f"Interview invitation {n}",
                        "body_html": body_html(n),
                        "email_from": f'"{author.name}" <{author.email}>',
                        "email_to": f'"Candidate {n}" <candidate{n}@example.com>',
                        "author_id": author.partner_id.id,
                        "auto_delete": args.auto_delete,
                    }
                )
            env["mail.mail"].create(vals_list)
            env.cr.commit()
            env.invalidate_all()
        emit({"queued": args.count, "seconds": time.perf_counter() - start})


def due_count(env, lane=None):
    if lane:  # the emails of this sending lane (recruitment_mail), as its cron counts them
        mails = env["mail.mail"].with_context(recruitment_mail_lane=lane)
        env.cr.execute(f"SELECT count(*) FROM mail_mail WHERE {mails._DUE_WHERE}", mails._due_params())
        return env.cr.fetchone()[0]
    env.cr.execute("""SELECT count(*) FROM mail_mail WHERE state = 'outgoing'
                      AND (scheduled_date IS NULL OR scheduled_date <= now() at time zone 'utc')""")
    return env.cr.fetchone()[0]


def cmd_drain(args):
    with odoo_env(args.db, args.odoo_log) as env:
        lane = args.lane
        cron = env.ref(
            "mail.ir_cron_mail_scheduler_action" if lane in (None, 1) else f"recruitment_mail.ir_cron_mail_lane_{lane}"
        )
        if lane:
            mails = env["mail.mail"].with_context(recruitment_mail_lane=lane)
            env.cr.execute(f"SELECT id FROM mail_mail WHERE {mails._DUE_WHERE}", mails._due_params())
        else:
            env.cr.execute("SELECT id FROM mail_mail WHERE state = 'outgoing'")
        queued_ids = [row[0] for row in env.cr.fetchall()]
        queued = due_count(env, lane)
        env.cr.commit()
        rss_before = rss_now_mb()
        cron_runs = 0
        with QueryRecorder(keep=args.keep_queries) as queries, CommitCounter() as commits:
            start = time.perf_counter()
            started_at = time.time()
            left = queued
            while left:  # one cron run per batch, until nothing is due or a run sends nothing
                cron.method_direct_trigger()
                env.cr.commit()
                cron_runs += 1
                with queries.paused():
                    left, before = due_count(env, lane), left
                if left >= before:
                    break
            elapsed = time.perf_counter() - start
            ended_at = time.time()
        peak = peak_rss_mb()
        env.cr.execute("SELECT state, count(*) FROM mail_mail WHERE id = ANY(%s) GROUP BY state", (queued_ids,))
        states = dict(env.cr.fetchall())
        kept = sum(states.values())
        # a mail deleted after sending (auto_delete) was sent: only success deletes here
        sent = queued - states.get("outgoing", 0) - states.get("exception", 0) - states.get("cancel", 0)
        result = {
            "queued": queued,
            "sent": sent,
            "failed": states.get("exception", 0),
            "left_outgoing": states.get("outgoing", 0),
            "kept_after_send": states.get("sent", 0),
            "deleted_after_send": queued - kept,
            "cron_runs": cron_runs,
            "seconds": elapsed,
            "started_at": started_at,
            "ended_at": ended_at,
            "emails_per_s": sent / elapsed if elapsed else None,
            "queries": queries.count,
            "queries_per_email": queries.count / sent if sent else None,
            "sql_seconds": queries.seconds,
            "commits": commits.count,
            "commits_per_email": commits.count / sent if sent else None,
            "commit_seconds": commits.seconds,
            "rss_before_mb": rss_before,
            "peak_rss_mb": peak,
        }
        if args.keep_queries:
            groups = {}
            for text, _params, delay in queries.queries:
                normalized = normalize_sql(text)
                group = groups.setdefault(sql_label(normalized), {"count": 0, "seconds": 0.0, "texts": {}})
                group["count"] += 1
                group["seconds"] += delay
                group["texts"][normalized] = group["texts"].get(normalized, 0) + 1
            result["query_groups"] = groups
        emit(result)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    queue = sub.add_parser("queue")
    queue.add_argument("--count", type=int, required=True)
    queue.add_argument("--port", type=int, required=True)
    queue.add_argument("--batch", type=int, required=True, help="mail.mail.queue.batch.size")
    queue.add_argument("--senders", type=int, default=20, help="how many authors (sender addresses)")
    queue.add_argument(
        "--auto-delete", action="store_true", help="queue mail with auto_delete set (stock deletes it once sent)"
    )
    queue.add_argument("--lanes", type=int, default=1, help="recruitment_mail's sending lanes (Settings)")
    queue.add_argument(
        "--smtp-connections",
        type=int,
        default=0,
        help="SMTP connections per queue run to the mail server (recruitment_mail's field; ignored without it)",
    )
    drain = sub.add_parser("drain")
    drain.add_argument("--keep-queries", action="store_true")
    drain.add_argument("--lane", type=int, help="run this sending lane's cron (recruitment_mail)")
    for p in (queue, drain):
        p.add_argument("--db", required=True)
        p.add_argument("--odoo-log", required=True)
    args = parser.parse_args()
    {"queue": cmd_queue, "drain": cmd_drain}[args.command](args)


if __name__ == "__main__":
    main()
