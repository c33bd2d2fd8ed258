"""Reading MyST chapter sources the way MyST nests fences, for tests that look at chapters' text."""
from __future__ import annotations

import re

FENCE_LINE = re.compile(r"^[ \t]*(`{3,}|~{3,}|:{3,})[ \t]*(.*?)[ \t]*$")


def walk_fences(text: str, classify):
    """Yield ``(line_number, line, event, stack)`` for every line of a MyST text, the way MyST nests
    fences. ``event`` is "open" or "close" for a fence line and "text" otherwise; ``stack`` lists the
    open blocks, innermost last, as ``(fence, info, flag)`` with ``flag = classify(fence, info)``.

    A fence closes the innermost open one of the same character and at least its length; inside a
    flagged block no other fence opens (its contents are not markup)."""
    stack = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = FENCE_LINE.match(line)
        if match:
            fence, info = match.groups()
            top = stack[-1] if stack else None
            if top and not info and fence[0] == top[0][0] and len(fence) >= len(top[0]):
                yield number, line, "close", stack
                stack.pop()
                continue
            if not (top and top[2]):
                stack.append((fence, info, bool(classify(fence, info))))
                yield number, line, "open", stack
                continue
        yield number, line, "text", stack


def blank_blocks(text: str, hide) -> str:
    """`text` with every fence line blanked, and every line inside a block for which
    `hide(fence, info)` is true blanked too; line numbers are kept."""
    lines = []
    for _, line, event, stack in walk_fences(text, hide):
        hidden = event != "text" or any(flag for _, _, flag in stack)
        lines.append("" if hidden else line)
    return "\n".join(lines) + "\n"
