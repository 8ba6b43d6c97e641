#!/usr/bin/env python3
"""Print an Odoo --addons-path: the directories given as arguments, then the
addons directories bundled with the importable `odoo` package (the same two
places Odoo itself uses when no addons_path is configured)."""

import os
import sys

import odoo


def odoo_addons_dirs():
    root = os.path.dirname(os.path.abspath(odoo.__file__))
    candidates = [
        os.path.join(root, "addons"),  # odoo/addons: base, web, ...
        os.path.join(os.path.dirname(root), "addons"),  # source checkout: mail, hr_recruitment, ...
    ]
    return [d for d in candidates if os.path.isdir(d)]


def main(argv):
    dirs = [os.path.abspath(d) for d in argv] + odoo_addons_dirs()
    seen = []
    for d in dirs:
        if d not in seen:
            seen.append(d)
    print(",".join(seen))


if __name__ == "__main__":
    main(sys.argv[1:])
