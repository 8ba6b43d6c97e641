"""Fill a benchmark database with N emails in plain SQL, fast enough for a
million rows in a few minutes (creating them through the ORM would take hours).

The rows are what Odoo itself would have stored for the same emails; the
generator only writes columns that exist, so one script serves stock Odoo and
ours (ours has the extra mail_mail columns and mail_mail_contact_rel).
lists_worker.py checks a sample against ours' own compute methods before
measuring, so a generator that drifts from the add-on is caught.

Shape of the data (deterministic: hashes of the row number, no random()):

* 50,000 contacts (res.partner); contact #0 is the recipient of exactly
  10,000 emails, the others share the rest evenly (hash of the row number);
* 20 authors: the administrator and 19 recruitment officers (setup_worker.py);
* created over the last two years, oldest first, one recipient each (a
  contact in recipient_ids; ours also has it in contact_ids);
* the message's company (record_company_id) is the author's company, as
  message_post stores it for a record without a company of its own; ours
  keeps a copy of it in mail_mail.company_id, which its company rule tests;
* 90% sent (date_sent a few seconds after creation), 5% waiting, 5% failed.
  Of the waiting mail, the 100 newest are queued (due now) and the others are
  scheduled within the next 30 days: the queue the cron sees is "nearly empty"
  (fewer due emails than one batch), as it is between two runs of a cron that
  keeps up.
"""

from __future__ import annotations

CONTACTS = 50_000
HOT_CONTACT_MAILS = 10_000
QUEUED_DUE = 100
DAYS = 730

# The same 2 KB HTML body as the queue benchmark's (queue_worker.body_html):
# like real email HTML it compresses well, so PostgreSQL stores it compressed
# and the heap rows stay small, as they do in a real database.
BODY_SQL = """rpad('<div><p>Dear Candidate ' || p.i || ',</p>' || repeat(
    '<p>Thank you for your application. We would like to invite you to an interview '
    'with our client to discuss the position in more detail. Please let us know which '
    'of the proposed dates suits you best, and bring a copy of your references.</p>', 7)
    || '<p>Kind regards,<br/>The recruitment team<br/>Bench Agency, 1 Example Street, '
    'Example City</p></div>', 2048)"""


def columns(cr, table):
    cr.execute("SELECT column_name FROM information_schema.columns WHERE table_name = %s", (table,))
    return {row[0] for row in cr.fetchall()}


def table_exists(cr, table):
    cr.execute("SELECT to_regclass(%s)", (table,))
    return cr.fetchone()[0] is not None


def generate(cr, size: int) -> dict:
    """Insert ``size`` emails (and the contacts) into the database of ``cr``."""
    if size < HOT_CONTACT_MAILS * 2:
        raise ValueError(f"size must be at least {HOT_CONTACT_MAILS * 2}")
    hot_every = size // HOT_CONTACT_MAILS  # every hot_every-th email goes to contact #0

    cr.execute("SELECT id FROM ir_mail_server WHERE name = 'Bench SMTP sink'")
    server_id = cr.fetchone()[0]
    cr.execute(
        """
        CREATE TEMP TABLE bench_author AS
        SELECT row_number() OVER (ORDER BY u.login = 'admin' DESC, u.login) - 1 AS n,
               u.id AS user_id, u.partner_id, u.company_id,
               format('"%%s" <%%s>', p.name, p.email) AS email_from
          FROM res_users u JOIN res_partner p ON p.id = u.partner_id
         WHERE u.login = 'admin' OR u.login LIKE %(officers)s""",
        {"officers": "bench\\_recruiter\\_%"},
    )
    cr.execute("SELECT count(*) FROM bench_author")
    authors = cr.fetchone()[0]

    # -- contacts --------------------------------------------------------------
    cr.execute("SELECT COALESCE(max(id), 0) FROM res_partner")
    partner_base = cr.fetchone()[0]
    cr.execute(
        """
        INSERT INTO res_partner (id, name, complete_name, email, email_normalized, type, active,
                                 is_company, partner_share, commercial_partner_id, lang, color,
                                 message_bounce, create_uid, write_uid, create_date, write_date)
        SELECT %(base)s + 1 + k, name, name, email, email, 'contact', true, false, true, %(base)s + 1 + k,
               'en_US', 0, 0, 1, 1, now() at time zone 'utc', now() at time zone 'utc'
          FROM generate_series(0, %(n)s - 1) k,
               LATERAL (SELECT format('Contact %%s', lpad(k::text, 5, '0')) AS name,
                               format('contact%%s@example.com', lpad(k::text, 5, '0')) AS email) x""",
        {"base": partner_base, "n": CONTACTS},
    )
    cr.execute("SELECT setval('res_partner_id_seq', %s)", (partner_base + CONTACTS,))

    # -- the plan: one row per email, everything derived from its number -------
    cr.execute(
        """
        CREATE TEMP TABLE bench_plan AS
        SELECT i,
               abs(hashint4extended(i, 1)) %% %(authors)s AS author_n,
               CASE WHEN i %% %(hot_every)s = 0 THEN 0
                    ELSE 1 + abs(hashint4extended(i, 3)) %% (%(contacts)s - 1) END AS contact_n,
               CASE WHEN abs(hashint4extended(i, 2)) %% 100 < 90 THEN 'sent'
                    WHEN abs(hashint4extended(i, 2)) %% 100 < 95 THEN 'scheduled'
                    ELSE 'failed' END AS kind,
               (now() at time zone 'utc') - (%(size)s - i) * (interval '1 day' * %(days)s / %(size)s)
                   - interval '1 minute' AS created
          FROM generate_series(1, %(size)s) i""",
        {"authors": authors, "hot_every": hot_every, "contacts": CONTACTS, "size": size, "days": DAYS},
    )
    cr.execute(
        """
        UPDATE bench_plan SET kind = 'queued'
         WHERE i IN (SELECT i FROM bench_plan WHERE kind = 'scheduled' ORDER BY i DESC LIMIT %s)""",
        (QUEUED_DUE,),
    )
    cr.execute("SELECT COALESCE(max(id), 0) FROM mail_message")
    message_base = cr.fetchone()[0]
    cr.execute("SELECT COALESCE(max(id), 0) FROM mail_mail")
    mail_base = cr.fetchone()[0]
    cr.execute(
        """
        CREATE TEMP TABLE bench_row AS
        SELECT p.i, %(mail_base)s + p.i AS mail_id, %(message_base)s + p.i AS message_id,
               p.kind, p.created, a.user_id, a.partner_id AS author_id, a.email_from, a.company_id,
               %(partner_base)s + 1 + p.contact_n AS contact_id,
               format('Contact %%s', lpad(p.contact_n::text, 5, '0')) AS contact_name,
               CASE p.kind WHEN 'scheduled'
                    THEN (now() at time zone 'utc') + interval '1 hour' * (1 + abs(hashint4extended(p.i, 4)) %% 720)
               END AS scheduled_date,
               CASE WHEN p.kind IN ('sent', 'failed') THEN p.created + interval '5 seconds' END AS attempted,
               CASE p.kind WHEN 'failed' THEN 1 + abs(hashint4extended(p.i, 5)) %% 3
                           WHEN 'sent' THEN 1 ELSE 0 END AS attempts,
               """
        + BODY_SQL
        + """ AS body
          FROM bench_plan p JOIN bench_author a ON a.n = p.author_n""",
        {"mail_base": mail_base, "message_base": message_base, "partner_base": partner_base},
    )

    # -- mail.message (the part of each email that mail.mail inherits) --------
    cr.execute(
        """
        INSERT INTO mail_message (id, subject, date, body, message_type, author_id, email_from,
                                  message_id, reply_to, email_add_signature, record_company_id,
                                  create_uid, write_uid, create_date, write_date)
        SELECT message_id, 'Interview invitation ' || i, date_trunc('second', created), '',
               'email_outgoing', author_id, email_from, format('<bench-%%s@%%s>', i, %(domain)s::text),
               email_from, true, company_id, user_id, user_id, created, COALESCE(attempted, created)
          FROM bench_row""",
        {"domain": "agency.example.com"},
    )
    cr.execute("SELECT setval('mail_message_id_seq', %s)", (message_base + size,))

    # -- mail.mail: stock columns, plus ours where the table has them ------------
    values = {
        "id": "mail_id",
        "mail_message_id": "message_id",
        "create_uid": "user_id",
        "write_uid": "user_id",
        "state": "CASE kind WHEN 'sent' THEN 'sent' WHEN 'failed' THEN 'exception' ELSE 'outgoing' END",
        "failure_type": "CASE kind WHEN 'failed' THEN 'mail_smtp' END",
        "failure_reason": "CASE kind WHEN 'failed' THEN 'The connection to the mail server failed while "
        "sending: Connection timed out. Check the SMTP settings if this happens again.' END",
        "body_html": "body",
        "is_notification": "false",
        "auto_delete": "false",
        "scheduled_date": "scheduled_date",
        "create_date": "created",
        "write_date": "COALESCE(attempted, created)",
        # ours
        "outbox_status": "CASE kind WHEN 'failed' THEN 'failed' ELSE kind END",
        "mail_user_id": "user_id",
        "is_system_mail": "false",
        "recipients_display": "contact_name",
        "attempt_count": "attempts",
        "last_attempt_date": "attempted",
        "date_sent": "CASE kind WHEN 'sent' THEN attempted END",
        "smtp_server_id": f"CASE WHEN attempted IS NOT NULL THEN {int(server_id)} END",
        "company_id": "company_id",  # a copy of the message's record_company_id
    }
    present = columns(cr, "mail_mail")
    names = [name for name in values if name in present]
    cr.execute(f"""INSERT INTO mail_mail ({", ".join(f'"{n}"' for n in names)})
                   SELECT {", ".join(values[n] for n in names)} FROM bench_row""")
    cr.execute("SELECT setval('mail_mail_id_seq', %s)", (mail_base + size,))

    # -- recipients ---------------------------------------------------------------
    cr.execute("""INSERT INTO mail_mail_res_partner_rel (mail_mail_id, res_partner_id)
                  SELECT mail_id, contact_id FROM bench_row""")
    ours = table_exists(cr, "mail_mail_contact_rel")
    if ours:
        cr.execute("""INSERT INTO mail_mail_contact_rel (mail_id, partner_id)
                      SELECT mail_id, contact_id FROM bench_row""")
    cr.execute("SELECT kind, count(*) FROM bench_plan GROUP BY kind")
    kinds = dict(cr.fetchall())
    cr.execute("DROP TABLE bench_row, bench_plan, bench_author")
    return {
        "size": size,
        "contacts": CONTACTS,
        "hot_contact_id": partner_base + 1,
        "hot_contact_mails": size // hot_every,
        "authors": authors,
        "kinds": kinds,
        "ours_columns": [n for n in names if n in ("outbox_status", "mail_user_id")],
        "contact_rel": ours,
    }
