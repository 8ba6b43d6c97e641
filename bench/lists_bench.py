"""Lists at scale, ours beside stock: the Outbox, Sent items and a contact's
Email tab (stock: Settings > Technical > Emails filtered the same way), and the
queue cron's look for due mail, on databases of N emails.

For each N in BENCH_SIZES (default "100000 1000000") and each setup, on a
fresh copy of that setup's template database:

1. generate N emails in SQL (lists_data.py), then VACUUM ANALYZE, as
   autovacuum would have done on a database in use;
2. measure (lists_worker.py measure): stock as the administrator (the only
   user stock lets open mail.mail), ours as shipped (its own indexes, record
   rules and queries) as a recruitment officer and as the administrator;
3. ours only: record the add-on's own indexes (mail_mail_rm_*) with their
   size at this N.

Writes BENCH_OUT/lists-<N>.json; EXPLAIN plans go to BENCH_OUT/explain/.
"""

from __future__ import annotations

import os

from benchlib import createdb_from, dropdb, env_setting, keep_dbs, log, psql, run_worker, save_json, template_db


def measure(db, side, user):
    result = run_worker(
        "lists_worker.py",
        "measure",
        "--db",
        db,
        "--side",
        side,
        "--user",
        user,
        log_name=f"measure-{db}-{user}",
    )
    summary = ", ".join(f"{key} {r['median_ms']:.1f}" for key, r in result["results"].items())
    log(f"  {side} {user}: {summary} (ms)")
    return result


def shipped_indexes(db):
    """{name: {"definition", "bytes"}} of the add-on's indexes on mail_mail."""
    rows = psql(
        db,
        r"""SELECT indexname, pg_relation_size(format('%I', indexname)::regclass), indexdef
              FROM pg_indexes
             WHERE tablename = 'mail_mail' AND indexname LIKE 'mail\_mail\_rm\_%'
          ORDER BY indexname""",
    )
    indexes = {}
    for line in rows.splitlines():
        name, size, definition = line.split("|", 2)
        indexes[name] = {"definition": definition, "bytes": int(size)}
    return indexes


def bench_size(size: int) -> dict:
    out = {"size": size, "sides": {}}
    for side in ("stock", "ours"):
        db = f"{env_setting('BENCH_PREFIX')}l{size}_{side}"
        log(f"lists, N={size:,}, {side}: generating {db}")
        createdb_from(template_db(side), db)
        try:
            data = run_worker("lists_worker.py", "generate", "--db", db, "--size", str(size), log_name=f"generate-{db}")
            psql(db, "VACUUM ANALYZE")
            log(f"  generated in {data['seconds']:.0f} s: {data['kinds']}")
            users = ("admin",) if side == "stock" else ("officer", "admin")
            runs = [measure(db, side, user) for user in users]
            if side == "ours":
                out["indexes"] = shipped_indexes(db)
            out["sides"][side] = {
                "data": data,
                "runs": runs,
                "db_size": psql(db, "SELECT pg_size_pretty(pg_total_relation_size('mail_mail'))"),
            }
        finally:
            if not keep_dbs():
                dropdb(db)
    return out


def main():
    sizes = [int(s) for s in os.environ.get("BENCH_SIZES", "100000 1000000").replace(",", " ").split()]
    for size in sizes:
        save_json(f"lists-{size}.json", bench_size(size))


if __name__ == "__main__":
    main()
