"""Turn a benchmark run's JSON files into the report: one table with ours
beside stock, then the EXPLAIN summary and the per-email query breakdown.

    report.py sysinfo   write BENCH_OUT/sysinfo.json (machine, versions, settings)
    report.py table     print the report (Markdown) and write BENCH_OUT/report.md

Every figure comes from the files of this run; nothing is typed in by hand.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

from benchlib import REPO_ROOT, out_dir, psql, python, save_json

LIST_TARGET_MS = 25
CRON_TARGET_MS = 5
LIST_KEYS = ("outbox_mine", "outbox_all", "sent_mine", "sent_all", "email_tab")
CRON_KEYS = ("cron_promote", "cron_pick", "cron_count", "cron_capacity")


# --- machine --------------------------------------------------------------------------


def _first(path, key):
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


def _git(*args):
    try:
        return subprocess.run(
            ["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def sysinfo():
    mem_kb = int(_first("/proc/meminfo", "MemTotal").split()[0]) if _first("/proc/meminfo", "MemTotal") != "?" else 0
    odoo_python = subprocess.run(
        [python(), "-c", "import sys, odoo.release as r; print(sys.version.split()[0], r.version)"],
        capture_output=True,
        text=True,
    ).stdout.split()
    settings = {
        name: psql("postgres", f"SHOW {name}")
        for name in (
            "shared_buffers",
            "work_mem",
            "effective_cache_size",
            "random_page_cost",
            "jit",
            "max_parallel_workers_per_gather",
            "synchronous_commit",
        )
    }
    # run.sh records the version of the add-on it copied for the run
    commit = os.environ.get("BENCH_ADDON_COMMIT") or _git("rev-parse", "--short", "HEAD")
    dirty = os.environ.get("BENCH_ADDON_DIRTY", "0") != "0"
    info = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="minutes"),
        "cpu": _first("/proc/cpuinfo", "model name"),
        "nproc": os.cpu_count(),
        "ram_gb": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "postgresql": psql("postgres", "SHOW server_version"),
        "pg_settings": settings,
        "python": odoo_python[0] if odoo_python else "?",
        "odoo": odoo_python[1] if len(odoo_python) > 1 else "?",
        "commit": commit,
        "addon_dirty": dirty,
        "load_average": os.getloadavg(),
        "settings": {
            k: v
            for k, v in os.environ.items()
            if k.startswith("BENCH_")
            and k not in ("BENCH_OUT", "BENCH_PREFIX", "BENCH_DATA_DIR", "BENCH_ADDONS_PATH", "BENCH_PYTHON")
        },
    }
    save_json("sysinfo.json", info)


# --- formatting -----------------------------------------------------------------------


def fmt(value, digits=1):
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def ratio(ours, stock):
    if ours is None or stock in (None, 0):
        return "—"
    return f"{ours / stock:.2f}×"


def load(name):
    path = out_dir() / name
    return json.loads(path.read_text()) if path.exists() else None


def run_of(side_data, user):
    for run in side_data["runs"]:
        if run["user"] == user:
            return run["results"]
    return {}


def ms(results, key):
    return results.get(key, {}).get("median_ms")


# --- the main table --------------------------------------------------------------------


def main_table(queue, lists):
    rows = []
    rows.append("| Measure | N | Stock | Ours | Ours ÷ stock | Target |")
    rows.append("|" + "---|" * 6)
    if queue:
        s, o = queue["sides"]["stock"], queue["sides"]["ours"]
        n = f"{queue['mails']:,} queued, batch {queue['batch']:,}, {queue['senders']} senders"
        rows += [
            f"| Queue: emails/s (median of {queue['runs']}) | {n} | {fmt(s['emails_per_s'])} | "
            f"{fmt(o['emails_per_s'])} | {ratio(o['emails_per_s'], s['emails_per_s'])} | ≥ stock |",
            f"| Queue: SQL statements per sent email | {n} | {fmt(s['queries_per_email'], 2)} | "
            f"{fmt(o['queries_per_email'], 2)} | {ratio(o['queries_per_email'], s['queries_per_email'])} | |",
            f"| Queue: commits per sent email | {n} | {fmt(s['commits_per_email'], 2)} | "
            f"{fmt(o['commits_per_email'], 2)} | {ratio(o['commits_per_email'], s['commits_per_email'])} | |",
            f"| Queue: time per sent email, ms | {n} | {fmt(1000 / s['emails_per_s'], 2)} | "
            f"{fmt(1000 / o['emails_per_s'], 2)} | {ratio(s['emails_per_s'], o['emails_per_s'])} | |",
            f"| Queue: of which SQL statements, ms | {n} | {fmt(s['sql_ms_per_email'], 2)} | "
            f"{fmt(o['sql_ms_per_email'], 2)} | {ratio(o['sql_ms_per_email'], s['sql_ms_per_email'])} | |",
            f"| Queue: of which commits, ms | {n} | {fmt(s.get('commit_ms_per_email'), 2)} | "
            f"{fmt(o.get('commit_ms_per_email'), 2)} | "
            f"{ratio(o.get('commit_ms_per_email'), s.get('commit_ms_per_email'))} | |",
            f"| Queue: peak RSS of the Odoo process, MB (at start) | {n} | {fmt(s['peak_rss_mb'], 0)} "
            f"({fmt(s['rss_before_mb'], 0)}) | {fmt(o['peak_rss_mb'], 0)} ({fmt(o['rss_before_mb'], 0)}) | "
            f"{ratio(o['peak_rss_mb'], s['peak_rss_mb'])} | |",
            f"| Queue: sent mail kept / deleted afterwards | {n} | {fmt(s['kept_after_send'], 0)} / "
            f"{fmt(s['deleted_after_send'], 0)} | {fmt(o['kept_after_send'], 0)} / "
            f"{fmt(o['deleted_after_send'], 0)} | | |",
        ]
        one = queue.get("one_sender") or {}
        if one.get("sides"):
            so, oo = one["sides"]["stock"], one["sides"]["ours"]
            rows.append(
                f"| Queue: emails/s, every email from one address (1 run) | {one['mails']:,} queued, "
                f"batch {queue['batch']:,}, 1 sender | {fmt(so['emails_per_s'])} | {fmt(oo['emails_per_s'])} | "
                f"{ratio(oo['emails_per_s'], so['emails_per_s'])} | ≥ stock |"
            )
        lanes = queue.get("lanes")
        if lanes:
            rows.append(
                f"| Queue: emails/s, ours with {lanes['lanes']} sending lanes side by side (1 run; stock has "
                f"one queue cron) | {n} | {fmt(s['emails_per_s'])} | {fmt(lanes['emails_per_s'])} | "
                f"{ratio(lanes['emails_per_s'], s['emails_per_s'])} | |"
            )
            rows.append(
                f"| Queue: SQL statements per sent email, {lanes['lanes']} lanes | {n} | "
                f"{fmt(s['queries_per_email'], 2)} | {fmt(lanes['queries_per_email'], 2)} | "
                f"{ratio(lanes['queries_per_email'], s['queries_per_email'])} | |"
            )
        rows += [
            f"| SMTP server alone: msgs/s, smtplib on one connection (median of {len(queue['smtp_ceilings'])}) "
            f"| {n} | {fmt(queue['smtp_ceiling_per_s'])} | | | |",
        ]
        ceiling = queue["smtp_ceiling_per_s"]
        best = max(o["emails_per_s"], (lanes or {}).get("emails_per_s") or 0)
        rows.append(
            f"| Queue: ours as a share of the SMTP server's own rate | {n} | "
            f"{fmt(100 * s['emails_per_s'] / ceiling, 0)} % | {fmt(100 * o['emails_per_s'] / ceiling, 0)} % "
            f"(with lanes {fmt(100 * best / ceiling, 0)} %) | | |"
        )
    for data in lists:
        n = f"{data['size']:,}"
        stock = run_of(data["sides"]["stock"], "admin")
        ours = data["sides"]["ours"]
        for key in LIST_KEYS:
            title = stock.get(key, {}).get("title") or key
            for user in ("officer", "admin"):
                value = ms(run_of(ours, user), key)
                rows.append(
                    f"| {title}, {user} (ms) | {n} | {fmt(ms(stock, key))} | {fmt(value)} | "
                    f"{ratio(value, ms(stock, key))} | < {LIST_TARGET_MS} |"
                )
        cron = run_of(ours, "admin")
        for key in CRON_KEYS:
            title = (cron.get(key) or stock.get(key) or {}).get("title", key)
            target = f"< {CRON_TARGET_MS}" if key in ("cron_pick", "cron_promote") else ""
            rows.append(
                f"| {title} (ms) | {n} | {fmt(ms(stock, key), 2)} | {fmt(ms(cron, key), 2)} | "
                f"{ratio(ms(cron, key), ms(stock, key))} | {target} |"
            )
    return rows


# --- EXPLAIN summary ---------------------------------------------------------------------


def statement_kind(sql):
    if sql.startswith("UPDATE"):
        return "update"
    if "COUNT(" in sql.upper()[:40]:
        return "count"
    if re.search(r'WHERE \("mail_mail"\."id" IN %s\)', sql):
        return "read by id"
    if "LIMIT" in sql:
        return "search"
    return "other"


def access_text(plan):
    big = [
        s
        for s in plan["scans"]
        if s["table"] in ("mail_mail", "mail_message", "mail_mail_contact_rel", "mail_mail_res_partner_rel")
        or s["table"] is None
    ]
    parts = []
    for scan in big:
        where = scan["index"] or scan["table"]
        read = scan["rows"] + scan["removed"]
        parts.append(
            f"{scan['node']} {where} ({read:,})".replace("Index Only Scan", "index-only")
            .replace("Index Scan", "index")
            .replace("Bitmap Heap Scan", "bitmap heap")
            .replace("Bitmap Index Scan", "bitmap index")
            .replace("Seq Scan", "SEQ SCAN")
        )
    seen = []
    for part in parts:
        if part not in seen:
            seen.append(part)
    return "; ".join(seen) or "—"


def explain_table(data):
    ours = data["sides"]["ours"]
    rows = [
        "| List / statement | Ours: access (rows read per scan; total), ms |",
        "|---|---|",
    ]
    for user, keys in (("officer", LIST_KEYS), ("admin", CRON_KEYS)):
        results = run_of(ours, user)
        for key in keys:
            title = results.get(key, {}).get("title", key)
            for plan in results.get(key, {}).get("plans", []):
                kind = statement_kind(plan["sql"])
                if kind == "read by id":
                    continue  # always the primary key, 80 rows at most
                rows.append(
                    f"| {title} ({user}): {kind} | {access_text(plan)}; {plan['rows_read']:,}, {plan['ms']:.1f} |"
                )
    return rows


# --- per-email breakdown -----------------------------------------------------------------------


def breakdown_table(queue):
    b = queue["breakdown"]
    rows = [
        f"Statements per sent email, {b['mails']} emails drained with every statement kept "
        f"(stock {b['runs']['stock']['queries_per_email']:.2f}, ours {b['runs']['ours']['queries_per_email']:.2f}; "
        "statements run once per cron run or per sender batch show as fractions):",
        "",
        "| Statement (columns folded) | Stock / email | Ours / email | Ours − stock | Stock ms / email | Ours ms / email |",
        "|---|---|---|---|---|---|",
    ]
    for row in b["rows"]:
        if max(row["stock"], row["ours"]) < 0.1:
            continue
        sql = row["sql"].replace("|", "\\|")
        sql = sql if len(sql) <= 160 else sql[:157] + "..."
        rows.append(
            f"| `{sql}` | {row['stock']:.2f} | {row['ours']:.2f} | {row['ours'] - row['stock']:+.2f} | "
            f"{row['stock_ms']:.3f} | {row['ours_ms']:.3f} |"
        )
    return rows


# --- provider far away (provider_bench.py) ----------------------------------------------------


def provider_table(data):
    """Emails/s and round trips per email through the sink at each reply delay."""
    rows = [
        f"Sending through a provider far away (the SMTP sink delays the reply ending each turn; "
        f"{data['mails']:,} emails per run unless the row says fewer; pipelined: send_envelopes, "
        f"batches of {data['batch']}):",
        "",
        "| Round trip | Client | Connections | Emails | Emails/s | Round trips / email | Duplicates | Lost |",
        "|---|---|---|---|---|---|---|---|",
    ]
    names = {"floor": "smtplib sendmail, one by one (the floor)", "pipelined": "smtp_pipeline (RFC 2920)"}
    for run in data["runs"]:
        rows.append(
            f"| {fmt(run['delay_ms'], 0)} ms | {names.get(run['mode'], run['mode'])} | {run['connections']} | "
            f"{run['mails']:,} | {fmt(run['emails_per_s'])} | {fmt(run['round_trips_per_email'], 2)} | "
            f"{run['duplicates']} | {run['lost']} |"
        )
    for delay, sides in (data.get("odoo") or {}).items():
        for side, run in sides.items():
            connections = run.get("smtp_connections") or 1
            note = " (stock measured on fewer emails: its rate)" if side == "stock" else ""
            rows.append(
                f"| {delay} ms | Odoo queue, {side}{note} | {connections} | {run['mails']:,} | "
                f"{fmt(run['emails_per_s'])} | {fmt(run['round_trips_per_email'], 2)} | "
                f"{run.get('duplicates', '—')} | |"
            )
    return rows


def server_table(data):
    """A real Odoo server, default cron threads, draining into the sink (server_bench.py)."""
    rows = [
        "A real Odoo server as an agency runs it (default cron threads and time limits) draining a "
        "backlog through the sink, counted from its first email received to its last:",
        "",
        "| Round trip | Side | Connections | Emails | Emails/s | Round trips / email | Odoo CPU ms / email "
        "| Most connections | Duplicates | Lost | Time-limit kills |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in data["runs"]:
        rows.append(
            f"| {fmt(run['reply_delay_ms'], 0)} ms | {run['side']} | {run['smtp_connections'] or 1} | "
            f"{run['mails']:,} | {fmt(run['emails_per_s'])} | {fmt(run['round_trips_per_email'], 2)} | "
            f"{fmt(run.get('odoo_cpu_ms_per_email'))} | "
            f"{run['max_connections']} | {run['duplicates']} | {run['lost']} | {run['time_limit_kills']}"
            f"{' (the server stopped)' if run.get('server_exited') is not None else ''} |"
        )
    return rows


def table():
    info = load("sysinfo.json") or {}
    queue = load("queue.json")
    lists = sorted((json.loads(p.read_text()) for p in out_dir().glob("lists-*.json")), key=lambda d: d["size"])
    lines = []
    if info:
        pg = info["pg_settings"]
        lines += [
            f"Run of {info['date']} on {info['cpu']}, {info['nproc']} CPUs, {info['ram_gb']} GB RAM; "
            f"PostgreSQL {info['postgresql']} (shared_buffers {pg['shared_buffers']}, work_mem {pg['work_mem']}, "
            f"jit {pg['jit']}, synchronous_commit {pg['synchronous_commit']}); Python {info['python']}, "
            f"Odoo {info['odoo']}; recruitment_mail at {info['commit']}"
            f"{' with uncommitted changes (addon-uncommitted.diff)' if info['addon_dirty'] else ''}; "
            f"load average at start {', '.join(f'{x:.2f}' for x in info['load_average'])}, "
            f"at the end {', '.join(f'{x:.2f}' for x in os.getloadavg())}.",
            "",
        ]
    lines += main_table(queue, lists)
    lines += [
        "",
        "Stock: Settings > Technical > Emails as the administrator (stock gives other users no "
        'access to mail.mail). "My mail" in stock = author is the user\'s partner. List times: '
        "server-side web_search_read / web_read, median of "
        f"{os.environ.get('BENCH_REPEAT', '10')}, warm caches. Ratios: ours ÷ stock "
        "(for times, above 1 is slower; for emails/s, above 1 is faster).",
    ]
    if lists:
        biggest = lists[-1]
        lines += [
            "",
            f"EXPLAIN (ANALYZE, BUFFERS) of ours' statements on the mail tables, N = {biggest['size']:,}:",
            "",
        ]
        lines += explain_table(biggest)
        lines += [
            "",
            "Rows read: per scan, rows returned plus rows its filter threw away, over all its loops "
            "(a parallel scan's workers added up); the total is over the mail tables' own scans.",
        ]
        if biggest.get("indexes"):
            lines += ["", f"Ours' own indexes on mail_mail (size at N = {biggest['size']:,}):", ""]
            for name, idx in biggest["indexes"].items():
                definition = idx["definition"].replace(" ON public.mail_mail USING btree ", " ON mail_mail ")
                lines.append(f"- `{definition};` — {idx['bytes'] / 1024 / 1024:.1f} MB")
    if queue:
        lines += [""] + breakdown_table(queue)
    provider = load("provider.json")
    if provider:
        lines += [""] + provider_table(provider)
    server = load("server.json")
    if server:
        lines += [""] + server_table(server)
    text = "\n".join(lines) + "\n"
    (out_dir() / "report.md").write_text(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    {"sysinfo": sysinfo, "table": table}[sys.argv[1] if len(sys.argv) > 1 else "table"]()
