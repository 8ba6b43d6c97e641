#!/usr/bin/env python3
"""Combine several pytest runs into one verdict for scripts/test.sh.

Usage: test_summary.py LABEL:EXIT_CODE:JUNIT_XML_OR_COUNTS_FILE [...]

A run that was skipped on purpose is passed with exit code "-" (it counts
nothing). Prints one line per run, then, as the very last line, the combined
``N passed, M failed[, K skipped]``. Exits 1 if any run failed, or if no test
ran at all; pytest's exit code 5 ("no tests collected") alone is not a failure.
"""

import sys
import xml.etree.ElementTree as ET


def junit_counts(path):
    """(tests, failed, skipped) from a pytest junit XML file, None if unreadable."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return None
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    tests = failed = skipped = 0
    for suite in suites:
        tests += int(suite.get("tests", 0))
        failed += int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        skipped += int(suite.get("skipped", 0))
    return tests, failed, skipped


def counts_file(path):
    """(tests, failed, skipped) from a file holding "tests failed skipped"
    (scripts/odoo_suites.sh writes one), None if unreadable."""
    try:
        with open(path, encoding="utf-8") as fh:
            tests, failed, skipped = (int(value) for value in fh.read().split()[:3])
    except (OSError, ValueError):
        return None
    return tests, failed, skipped


def main(args):
    total_passed = total_failed = total_skipped = 0
    bad = False
    for arg in args:
        label, rc, path = arg.split(":", 2)
        if rc == "-":
            print(f"{label}: not run")
            continue
        rc = int(rc)
        counts = counts_file(path) if path.endswith(".counts") else junit_counts(path)
        tests, failed, skipped = counts or (0, 0, 0)
        if rc not in (0, 5):
            bad = True
            # pytest failed without recording a failing test (crash, internal or
            # usage error): still count it, so the numbers agree with the verdict.
            failed = max(failed, 1)
        passed = max(tests - failed - skipped, 0)
        total_passed += passed
        total_failed += failed
        total_skipped += skipped
        note = " (no tests collected)" if rc == 5 else ""
        print(f"{label}: {passed} passed, {failed} failed, {skipped} skipped, exit code {rc}{note}")
    if total_passed + total_failed == 0:
        print("no test ran at all")
        bad = True
    line = f"{total_passed} passed, {total_failed} failed"
    if total_skipped:
        line += f", {total_skipped} skipped"
    print(line)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
