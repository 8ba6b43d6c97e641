"""Screenshots of the running product for README and docs/.

    python3 scripts/screenshots.py [--url http://localhost:8069] [--out docs]

Needs `pip install playwright` and Debian's chromium (no browser download):
it drives /usr/bin/chromium (or $CHROMIUM) headless, logs in as admin/admin
and photographs the Outbox, Sent items and a candidate's Email tab.
"""

import argparse
import os
import re

from playwright.sync_api import sync_playwright

PAGES = [
    ("outbox", "/odoo/outbox"),
    ("sent-items", "/odoo/sent-items"),
]
VIEWPORTS = {"desktop": {"width": 1440, "height": 800}, "phone": {"width": 390, "height": 844}}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://localhost:8069")
    parser.add_argument("--out", default="docs")
    parser.add_argument("--login", default="admin")
    parser.add_argument("--password", default="admin")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        for size, viewport in VIEWPORTS.items():
            page = browser.new_page(viewport=viewport, device_scale_factor=1)
            page.goto(f"{args.url}/web/login")
            page.fill("input[name=login]", args.login)
            page.fill("input[name=password]", args.password)
            page.click("button[type=submit]")
            page.wait_for_url(re.compile(r".*/odoo.*"))
            for name, path in PAGES:
                page.goto(args.url + path)
                page.wait_for_selector(".o_list_view, .o_kanban_view", timeout=30000)
                page.wait_for_timeout(800)
                page.screenshot(path=f"{args.out}/{name}-{size}.png")
            # a failed email, opened from the Outbox
            page.goto(args.url + "/odoo/outbox")
            page.wait_for_selector(".o_list_view .o_data_row, .o_kanban_record", timeout=30000)
            page.locator(".o_data_row, .o_kanban_record").first.click()
            page.wait_for_selector(".o_form_view")
            page.wait_for_timeout(800)
            page.screenshot(path=f"{args.out}/outbox-email-{size}.png")
            # a candidate's Email tab
            page.goto(args.url + "/odoo/action-hr_recruitment.action_hr_candidate")
            page.wait_for_selector(".o_kanban_record, .o_data_row", timeout=30000)
            page.get_by_text("Anna Kowalski").first.click()
            page.wait_for_selector(".o_form_view")
            page.get_by_role("tab", name="Emails").click()
            page.wait_for_timeout(800)
            page.screenshot(path=f"{args.out}/candidate-emails-{size}.png")
            page.close()
        browser.close()


if __name__ == "__main__":
    main()
