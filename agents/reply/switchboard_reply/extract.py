"""Reply extraction: the new text of an email reply, without the quoted history and signature.

What is cut (the conventions of the common mail clients):
- an attribution line and everything after it: "On <date>, <name> wrote:" (Gmail, Apple Mail,
  Thunderbird; may wrap over up to three lines), "Le ... a écrit :", "Am ... schrieb ...:";
- an Outlook header block and everything after it: a "From:" line followed within four lines by
  "Sent:" or "Date:" (optionally preceded by a "____" rule line), and "-----Original Message-----";
- lines quoted with ">" (interleaved answers between quoted lines are kept);
- the signature: from a line that is exactly "-- " (RFC 3676 section 4.3; also "--", since
  clients strip trailing spaces) or a trailing "Sent from my ..." line, to the end.

HTML-only mail is first turned into text, dropping <blockquote> (how Gmail and Apple Mail quote).
Pure functions, no I/O.
"""
from __future__ import annotations

import html.parser
import re
from typing import List

_ATTRIBUTION = [
    re.compile(r"^\s*On\s.+\swrote:\s*$", re.IGNORECASE | re.DOTALL),
    re.compile(r"^\s*Le\s.+\sa\s+écrit\s*:\s*$", re.IGNORECASE | re.DOTALL),
    re.compile(r"^\s*Am\s.+\sschrieb.*:\s*$", re.IGNORECASE | re.DOTALL),
]
_ATTRIBUTION_START = re.compile(r"^\s*(On|Le|Am)\s", re.IGNORECASE)
_ORIGINAL_MESSAGE = re.compile(r"^\s*-{2,}\s*Original Message\s*-{2,}\s*$", re.IGNORECASE)
_OUTLOOK_FROM = re.compile(r"^\s*\*?From:\*?\s", re.IGNORECASE)
_OUTLOOK_NEXT = re.compile(r"^\s*\*?(Sent|Date):\*?\s", re.IGNORECASE)
_RULE = re.compile(r"^\s*_{10,}\s*$")
_MOBILE_SIGNATURE = re.compile(r"^\s*Sent from my \S.*$", re.IGNORECASE)


def _quote_start(lines: List[str]) -> int:
    """Index of the first line of quoted history, or len(lines)."""
    for i, line in enumerate(lines):
        if _ORIGINAL_MESSAGE.match(line):
            return i
        if _OUTLOOK_FROM.match(line) and any(_OUTLOOK_NEXT.match(n) for n in lines[i + 1:i + 5]):
            return i - 1 if i > 0 and _RULE.match(lines[i - 1]) else i
        if _ATTRIBUTION_START.match(line):
            for span in range(1, 4):  # clients wrap long attribution lines
                joined = " ".join(lines[i:i + span])
                if any(p.match(joined) for p in _ATTRIBUTION):
                    return i
    return len(lines)


def _signature_start(lines: List[str]) -> int:
    for i, line in enumerate(lines):
        if line in ("-- ", "--"):
            return i
    # "Sent from my iPhone" as the last non-empty line.
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].strip():
            return i if _MOBILE_SIGNATURE.match(lines[i]) else len(lines)
    return len(lines)


def extract_reply(text: str) -> str:
    """The reply's own text, stripped of quoted history and signature (see the module doc)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    lines = lines[:_quote_start(lines)]
    lines = [line for line in lines if not line.lstrip().startswith(">")]
    lines = lines[:_signature_start(lines)]
    return "\n".join(line.rstrip() for line in lines).strip("\n").strip()


class _HtmlText(html.parser.HTMLParser):
    _BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"}
    _SKIPPED = {"blockquote", "style", "script", "head"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: List[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in self._SKIPPED:
            self._skip += 1
        elif tag in self._BLOCKS and not self._skip:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in self._SKIPPED:
            self._skip = max(0, self._skip - 1)
        elif tag in self._BLOCKS and not self._skip:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(re.sub(r"\s+", " ", data))


def html_to_text(markup: str) -> str:
    """Visible text of an HTML body, one line per block, quoted <blockquote>s dropped."""
    parser = _HtmlText()
    parser.feed(markup)
    parser.close()
    lines = [line.strip() for line in "".join(parser.parts).split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
