"""Text made safe to print on a terminal: page text is untrusted, and escape sequences in it could
recolour, retitle, hide or rewrite what the analyst sees (or, on some terminals, write files).

>>> one_line("Cures \\x1b[2Jall\\ndisease\\x07")
'Cures all disease'
"""

from __future__ import annotations

import re

# ESC-introduced sequences: CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST; an unterminated one stops at
# the end of the line), DCS/SOS/PM/APC (ESC P|X|^|_ ... ST), any other two- or three-byte escape, or a
# lone ESC
_ESCAPE = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]"
    r"|\][^\x07\x1b\n]*(?:\x07|\x1b\\)?"
    r"|[PX^_][^\x1b\n]*(?:\x1b\\)?"
    r"|[ -/]*[0-~])?"
)
# C0 controls but tab and newline, DEL, C1 controls (0x9b is a one-byte CSI on some terminals)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def for_terminal(text: str) -> str:
    """``text`` without escape sequences and control characters; newlines and tabs are kept."""
    return _CONTROL.sub("", _ESCAPE.sub("", text.replace("\r\n", "\n")))


def one_line(text: str | None) -> str:
    """One table cell: ``for_terminal`` with every run of whitespace (newlines too) made one space."""
    return " ".join(for_terminal(text or "").split())
