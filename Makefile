# recruitment_mail — run and test an Odoo 18.0 add-on.
#
#   make run     Odoo on http://localhost:$(HTTP_PORT) (login admin / admin) with
#                recruitment_mail and demo data in database $(DB); outgoing mail
#                goes to a local SMTP sink that keeps every message in var/mailbox/
#                (.eml files + index.jsonl), or to a real SMTP server (see below).
#   make test    the add-on's Odoo tests (pytest-odoo), the system tests in
#                tests/ (real Odoo server + SMTP server), Odoo's own mail suites
#                and OCA's mail_tracking/mail_debrand tests beside the add-on,
#                on throwaway databases.
#   make bench   performance beside stock Odoo, see docs/benchmarks.md (BENCH_SIZES=100000: quick run).
#   make lint    ruff, pylint-odoo and OCA's Odoo checks, offline (scripts/lint.sh: tools, LINT_PYTHON).
#   make test-under-load  make test RUNS=3 times beside BURNERS=2 CPU-bound processes.
#   make chaos   chaos test of the mail queue at full size (CHAOS_EMAILS=2000), see tests/chaos.sh.
#
# Variables (set them in the environment or on the command line, e.g.
# `make run HTTP_PORT=8070`):
#   DB               database used by `make run`                (recruitment_mail)
#   HTTP_PORT        Odoo's HTTP port for `make run`            (8069)
#   SMTP_HOST        SMTP server Odoo sends to                  (127.0.0.1)
#   SMTP_PORT        its port                                   (2525)
#   SMTP_USER        SMTP login, if the server needs one        (empty)
#   SMTP_PASSWORD    SMTP password                              (empty)
#   SMTP_ENCRYPTION  none | starttls | ssl                      (none)
#   SMTP_FROM_FILTER optional from_filter of the mail server    (empty)
#   REAL_SMTP        1: don't start the local sink even though SMTP_HOST is local.
#                    A SMTP_HOST other than 127.0.0.1/localhost always means a real
#                    server: no sink is started and Odoo sends there.
#   ODOO_SRC         local Odoo 18.0 source tree to use when `python3` cannot
#                    import odoo (runs $(ODOO_SRC)/odoo-bin with PYTHONPATH set).
#                    Without either, the scripts install Odoo 18.0 into .venv-odoo/.
#   ADDONS_DIR       directory holding recruitment_mail/       (this repository)
#   PYTEST_ARGS      extra pytest arguments for `make test`     (empty), e.g. "-x -k smoke"
#   KEEP_DBS         1: `make test` keeps its databases for debugging
#
# Runtime files (logs, mailbox, pid files, test data) live in var/, which git ignores.

DB              ?= recruitment_mail
HTTP_PORT       ?= 8069
SMTP_HOST       ?= 127.0.0.1
SMTP_PORT       ?= 2525
SMTP_USER       ?=
SMTP_PASSWORD   ?=
SMTP_ENCRYPTION ?= none
SMTP_FROM_FILTER ?=
REAL_SMTP       ?= 0
ODOO_SRC        ?=
ADDONS_DIR      ?= $(CURDIR)
PYTEST_ARGS     ?=
KEEP_DBS        ?= 0

export DB HTTP_PORT SMTP_HOST SMTP_PORT SMTP_USER SMTP_PASSWORD SMTP_ENCRYPTION \
       SMTP_FROM_FILTER REAL_SMTP ODOO_SRC ADDONS_DIR PYTEST_ARGS KEEP_DBS

.PHONY: run test help

help:
	@sed -n '1,/^$$/p' $(firstword $(MAKEFILE_LIST))

run:
	bash scripts/run.sh

test:
	bash scripts/test.sh

.PHONY: bench
bench:
	bash bench/run.sh

.PHONY: lint
lint:
	bash scripts/lint.sh

.PHONY: test-under-load
test-under-load:
	bash scripts/test_under_load.sh

.PHONY: chaos
chaos:
	CHAOS_EMAILS="$(or $(CHAOS_EMAILS),2000)" bash tests/chaos.sh
