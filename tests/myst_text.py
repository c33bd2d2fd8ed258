"""Reading MyST chapter sources the way MyST nests fences, for tests that look at chapters' text."""
from __future__ import annotations

import re

FENCE_LINE = re.compile(r"^[ \t]*(`{3,}|~{3,}|:{3,})[ \t]*(.*?)[ \t]*$")


def blank_blocks(text: str, hide) -> str:
    """`text` with every fence line blanked, and every line inside a block for which
    `hide(fence, info)` is true blanked too; line numbers are kept.

    A fence closes the innermost open one of the same character and at least its length; inside a
    hidden block no other fence opens (its contents are not markup)."""
    lines, stack = [], []   # stack of (fence, hidden)
    for line in text.splitlines():
        match = FENCE_LINE.match(line)
        if match:
            fence, info = match.groups()
            top = stack[-1] if stack else None
            if top and not info and fence[0] == top[0][0] and len(fence) >= len(top[0]):
                stack.pop()
                lines.append("")
                continue
            if not (top and top[1]):
                stack.append((fence, bool(hide(fence, info))))
                lines.append("")
                continue
        lines.append("" if any(hidden for _, hidden in stack) else line)
    return "\n".join(lines) + "\n"
