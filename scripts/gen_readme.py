#!/usr/bin/env python3
"""Build recruitment_mail/README.rst from the fragments in recruitment_mail/readme/
and the manifest, in the manner of OCA's oca-gen-addon-readme (same fragment
names, section order and layout), which is not on PyPI and needs pandoc for
Markdown fragments. This script needs only the standard library, plus docutils
(an Odoo dependency) to check that the result is valid reStructuredText.

    python3 scripts/gen_readme.py            write README.rst
    python3 scripts/gen_readme.py --check    exit 1 if README.rst is out of date

Fragments are Markdown, in the subset used by OCA's fragments: paragraphs,
"#" headings, "-"/"*" and "1." lists (nested by indentation), **bold**, *italic*,
`code`, [links](url), ![images](../static/description/x.png) on a line of their
own and ``` fenced code blocks.
"""

import argparse
import ast
import hashlib
import re
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
ADDON_DIR = REPO_ROOT / "recruitment_mail"

# OCA's fragments: (name, section title, level); level 2 is a section of the
# README, level 3 a subsection of Credits. DESCRIPTION has no title.
FRAGMENTS = [
    ("DESCRIPTION", None, 2),
    ("CONTEXT", "Use Cases / Context", 2),
    ("INSTALL", "Installation", 2),
    ("CONFIGURE", "Configuration", 2),
    ("USAGE", "Usage", 2),
    ("DEVELOP", "Development", 2),
    ("ROADMAP", "Known issues / Roadmap", 2),
    ("HISTORY", "Changelog", 2),
    ("CONTRIBUTORS", "Contributors", 3),
    ("CREDITS", "Other credits", 3),
]
# Underline characters: "=" for the README's sections, "-" below them, then
# deeper. Headings inside a fragment start one level below the fragment.
UNDERLINES = {2: "=", 3: "-", 4: "~", 5: "^", 6: '"'}
MANIFEST_KEYS = ("name", "summary", "author", "license")
LICENSE_BADGES = {
    "AGPL-3": (
        "https://img.shields.io/badge/license-AGPL--3-blue.png",
        "http://www.gnu.org/licenses/agpl-3.0-standalone.html",
        "License: AGPL-3",
    ),
    "LGPL-3": (
        "https://img.shields.io/badge/license-LGPL--3-blue.png",
        "http://www.gnu.org/licenses/lgpl-3.0-standalone.html",
        "License: LGPL-3",
    ),
    "GPL-3": (
        "https://img.shields.io/badge/license-GPL--3-blue.png",
        "http://www.gnu.org/licenses/gpl-3.0-standalone.html",
        "License: GPL-3",
    ),
}


# --- Markdown (OCA fragment subset) to reStructuredText ---------------------------

_CODE = re.compile(r"`([^`]+)`")
_LINK = re.compile(r"(?<!!)\[([^\]]+)\]\(([^)\s]+)\)")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*", re.S)
_ITALIC_STAR = re.compile(r"(?<![*\w])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![*\w])", re.S)
_ITALIC_UNDERSCORE = re.compile(r"(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])", re.S)
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_ITEM = re.compile(r"^( *)([-*+]|\d+[.)])\s+(.*)$")
_IMAGE = re.compile(r"^!\[([^\]]*)\]\(([^)\s]+)\)\s*$")
_FENCE = re.compile(r"^\s*```")


def _escape(text):
    """Escape what reStructuredText would read as markup in plain text."""
    text = text.replace("\\", "\\\\")
    text = re.sub(r"(\w)_(?=\W|$)", r"\1\\_", text)  # word_ is a reference
    for char in "|*`":
        text = text.replace(char, "\\" + char)
    return text


def inline(text):
    """Convert the inline markup of a paragraph (which may span lines): code
    spans, links, bold, italic; everything else is escaped."""
    kept = []

    def keep(rst):
        kept.append(rst)
        return f"\0{len(kept) - 1}\0"

    text = _CODE.sub(lambda m: keep(f"``{m.group(1)}``"), text)
    text = _LINK.sub(lambda m: keep(f"`{_escape(m.group(1))} <{m.group(2)}>`__"), text)
    text = _BOLD.sub(lambda m: keep(f"**{_escape(m.group(1))}**"), text)
    text = _ITALIC_UNDERSCORE.sub(lambda m: keep(f"*{_escape(m.group(1))}*"), text)
    text = _ITALIC_STAR.sub(lambda m: keep(f"*{_escape(m.group(1))}*"), text)
    text = _escape(text)
    return re.sub(r"\0(\d+)\0", lambda m: kept[int(m.group(1))], text)


def md_to_rst(markdown, level):
    """reStructuredText for a fragment; its headings start at level + 1."""
    lines = markdown.expandtabs(4).splitlines()
    # The fragment's shallowest headings ("#" or "###" alike) are one level below it.
    top = min((len(m.group(1)) for m in map(_HEADING.match, lines) if m), default=1)
    blocks = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        if _FENCE.match(line):
            code = []
            i += 1
            while i < len(lines) and not _FENCE.match(lines[i]):
                code.append(lines[i])
                i += 1
            i += 1
            blocks.append("::\n\n" + "\n".join("    " + c if c.strip() else "" for c in code))
            continue
        heading = _HEADING.match(line)
        if heading:
            depth = min(level + 1 + len(heading.group(1)) - top, 6)
            title = inline(heading.group(2))
            blocks.append(f"{title}\n{UNDERLINES[depth] * len(title)}")
            i += 1
            continue
        image = _IMAGE.match(line)
        if image:
            path = re.sub(r"^(\.\./)+", "", image.group(2))
            blocks.append(f".. image:: {path}\n   :alt: {image.group(1)}")
            i += 1
            continue
        if _ITEM.match(line):
            # The list goes on over continuation lines (indented or not) and over
            # blank lines followed by an indented line or another item.
            end = i + 1
            while end < len(lines):
                if not lines[end].strip():
                    following = lines[end + 1] if end + 1 < len(lines) else ""
                    if following.strip() and (following.startswith(" ") or _ITEM.match(following)):
                        end += 1
                        continue
                    break
                if _HEADING.match(lines[end]) or _FENCE.match(lines[end]):
                    break
                end += 1
            blocks.append(_list_to_rst(lines[i:end]))
            i = end
            continue
        paragraph = []
        while (
            i < len(lines)
            and lines[i].strip()
            and not (
                _HEADING.match(lines[i])
                or _FENCE.match(lines[i])
                or _IMAGE.match(lines[i])
                or (_ITEM.match(lines[i]) and not lines[i].startswith(" "))
            )
        ):
            paragraph.append(lines[i].strip())
            i += 1
        blocks.append(inline("\n".join(paragraph)))
    return "\n\n".join(blocks) + "\n"


def _list_to_rst(lines):
    """A Markdown list (possibly nested by indentation) as a reStructuredText list."""
    root = []
    open_items = []  # the item being read at each depth
    for line in lines:
        match = _ITEM.match(line)
        if match:
            indent = len(match.group(1))
            item = {
                "indent": indent,
                "marker": "-" if match.group(2) in "-*+" else "#.",
                "text": [match.group(3)],
                "children": [],
            }
            while open_items and open_items[-1]["indent"] >= indent:
                open_items.pop()
            (open_items[-1]["children"] if open_items else root).append(item)
            open_items.append(item)
        elif open_items:
            open_items[-1]["text"].append(line.strip())  # a blank line separates paragraphs
    return "\n".join(_render_items(root, 0))


def _render_items(items, indent):
    # Items with several paragraphs or a sublist are separated by blank lines.
    loose = any(
        len([p for p in "\n".join(item["text"]).split("\n\n") if p.strip()]) > 1 or item["children"] for item in items
    )
    out = []
    for item in items:
        prefix = item["marker"] + " "
        pad = " " * (indent + len(prefix))
        paragraphs = [p for p in "\n".join(item["text"]).split("\n\n") if p.strip()]
        for number, paragraph in enumerate(paragraphs):
            body = inline("\n".join(t.strip() for t in paragraph.split("\n") if t.strip())).split("\n")
            if number == 0:
                out.append(" " * indent + prefix + body[0])
                out.extend(pad + b for b in body[1:])
            else:
                out.append("")
                out.extend(pad + b for b in body)
        if item["children"]:
            out.append("")
            out.extend(_render_items(item["children"], indent + len(prefix)))
        if loose:
            out.append("")
    while out and out[-1] == "":
        out.pop()
    return out


# --- README.rst ------------------------------------------------------------------


def read_manifest(addon_dir):
    return ast.literal_eval((addon_dir / "__manifest__.py").read_text(encoding="utf-8"))


def read_fragments(addon_dir):
    fragments = {}
    for name, _title, _level in FRAGMENTS:
        rst = addon_dir / "readme" / f"{name}.rst"
        md = addon_dir / "readme" / f"{name}.md"
        if rst.exists() and md.exists():
            sys.exit(f"Both {rst} and {md} exist: remove one.")
        if md.exists():
            fragments[name] = ("md", md.read_text(encoding="utf-8"))
        elif rst.exists():
            fragments[name] = ("rst", rst.read_text(encoding="utf-8"))
    return fragments


def source_digest(manifest, fragments):
    """Digest of what README.rst is made of: the fragments and the manifest keys used."""
    digest = hashlib.sha256()
    for key in MANIFEST_KEYS:
        digest.update(f"{key}={manifest.get(key, '')!r}\n".encode())
    for name in sorted(fragments):
        fmt, text = fragments[name]
        digest.update(f"{name}.{fmt}\n".encode())
        digest.update(text.encode("utf-8"))
    return "sha256:" + digest.hexdigest()


def section(title, underline, body):
    return f"{title}\n{underline * len(title)}\n\n{body.rstrip()}\n\n"


def build_readme(addon_dir):
    manifest = read_manifest(addon_dir)
    fragments = read_fragments(addon_dir)
    if "DESCRIPTION" not in fragments:
        sys.exit(f"{addon_dir}/readme/DESCRIPTION.md is missing")
    body = {}
    for name, _title, level in FRAGMENTS:
        if name in fragments:
            fmt, text = fragments[name]
            body[name] = md_to_rst(text, level) if fmt == "md" else text

    name = manifest["name"]
    out = [
        "=" * len(name),
        name,
        "=" * len(name),
        "",
        ".. ",
        "   !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
        "   !! This file is generated by scripts/gen_readme.py from the !!",
        "   !! readme/ fragments and the manifest: edit those, then     !!",
        "   !! run it again. Changes made here will be overwritten.     !!",
        "   !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
        f"   !! source digest: {source_digest(manifest, fragments)}",
        "   !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
        "",
    ]
    badge = LICENSE_BADGES.get(manifest.get("license"))
    if badge:
        out += [
            f".. |badge1| image:: {badge[0]}",
            f"    :target: {badge[1]}",
            f"    :alt: {badge[2]}",
            "",
            "|badge1|",
            "",
        ]
    if manifest.get("summary"):
        out += [f"**{_escape(manifest['summary'].strip())}**", ""]
    text = "\n".join(out) + "\n"
    text += body["DESCRIPTION"].rstrip() + "\n\n"
    text += "**Table of contents**\n\n.. contents::\n   :local:\n\n"
    for fragment, title, level in FRAGMENTS:
        if title and level == 2 and fragment in body:
            text += section(title, UNDERLINES[2], body[fragment])
    credits = ""
    authors = [a.strip() for a in manifest.get("author", "").split(",") if a.strip()]
    if authors:
        credits += section("Authors", UNDERLINES[3], "\n".join(f"- {_escape(a)}" for a in authors))
    for fragment, title, level in FRAGMENTS:
        if level == 3 and fragment in body:
            credits += section(title, UNDERLINES[3], body[fragment])
    if credits:
        text += section("Credits", UNDERLINES[2], credits)
    return text.rstrip() + "\n"


def check_rst(text, source):
    """Fail on any docutils warning, as OCA's generator does."""
    try:
        from docutils.core import publish_string
        from docutils.utils import SystemMessage
    except ImportError:
        print("gen_readme: docutils is not installed; reStructuredText not checked", file=sys.stderr)
        return
    try:
        publish_string(
            text,
            source_path=str(source),
            writer_name="null",
            settings_overrides={
                "halt_level": 2,
                "report_level": 2,
                "file_insertion_enabled": False,
                "raw_enabled": False,
            },
        )
    except SystemMessage as exc:
        sys.exit(f"gen_readme: {source} would not be valid reStructuredText: {exc}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if README.rst is out of date")
    parser.add_argument("--addon-dir", type=Path, default=ADDON_DIR, help="the add-on (default: recruitment_mail)")
    args = parser.parse_args(argv)
    readme = args.addon_dir / "README.rst"
    text = build_readme(args.addon_dir)
    check_rst(text, readme)
    current = readme.read_text(encoding="utf-8") if readme.exists() else None
    if args.check:
        if current != text:
            print(f"{readme.relative_to(REPO_ROOT)} is out of date: run python3 scripts/gen_readme.py")
            return 1
        return 0
    if current != text:
        readme.write_text(text, encoding="utf-8")
        print(f"wrote {readme.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
