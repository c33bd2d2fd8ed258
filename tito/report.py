"""Failures a learner can read: values summarised, what was expected next to what came.

Shared by the notebook runner (the inline `test_unit_*` checks) and the pytest plugin (the module's
tests). Three pieces:

- `summarise(value)`: one line for any value; an array (or a Tensor, anything whose `.data` is an
  ndarray) becomes its shape, dtype and a few values, never thousands of numbers;
- `install_summaries()`: makes pytest's assertion rewriting use `summarise` for the values it
  shows (`assert f(x) == y` failing says `+ where array(shape (64, 10), float32: [...]) = f(x)`);
- `compared(frame, lineno, source)`: for the failing line (`assert a == b`, `assert np.allclose(a, b)`,
  `np.testing.assert_allclose(a, b)`, `assert (a == b).all()`, and `and`s of those), the two values
  it compared, read back from the failing frame. Only side-effect-free expressions are evaluated
  (names, attributes, indexing, constants, NumPy constructors); a learner's function is never
  called a second time.
"""
from __future__ import annotations

import ast
import math
import re
from typing import Any

_LINE = 200          # longest line of a message a learner is shown
_COMPARERS = {"allclose", "isclose", "array_equal", "array_equiv", "assert_allclose", "assert_array_equal",
              "assert_equal", "assert_array_almost_equal", "assert_almost_equal", "assert_array_max_ulp"}
_NUMPY_CONSTRUCTORS = {"array", "asarray", "zeros", "ones", "full", "arange", "eye", "linspace", "float16",
                       "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool_", "exp", "log",
                       "sqrt", "tanh", "maximum", "minimum", "abs", "where", "ones_like", "zeros_like"}


def _array_of(value: Any):
    """The ndarray behind `value` (itself, or a Tensor-like object's `.data`), else None."""
    try:
        import numpy as np
    except ImportError:          # pragma: no cover - NumPy is a dependency
        return None
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, (str, bytes, int, float, complex, bool, type(None), type)):
        return None
    try:
        data = getattr(value, "data", None)
    except Exception:
        return None
    return data if isinstance(data, np.ndarray) else None


def _number(x: Any) -> str:
    try:
        if isinstance(x, float) or getattr(x, "dtype", None) is not None and x.dtype.kind == "f":
            x = float(x)
            return "nan" if math.isnan(x) else f"{x:.6g}"
        if getattr(x, "dtype", None) is not None and x.dtype.kind == "c":
            return f"{complex(x):.6g}"
        return str(x.item() if hasattr(x, "item") else x)
    except Exception:
        return "?"


def _array_summary(array, kind: str) -> str:
    flat = array.reshape(-1)
    if flat.size <= 6:
        values = ", ".join(_number(x) for x in flat)
    else:
        values = ", ".join(_number(x) for x in flat[:3]) + ", ..., " + ", ".join(_number(x) for x in flat[-2:])
    return f"{kind}(shape {tuple(array.shape)}, {array.dtype}: [{values}])"


def summarise(value: Any, limit: int = 160) -> str:
    """One line for `value`: arrays and Tensors as shape, dtype and a few values; anything else as
    its repr, cut to `limit` characters."""
    array = _array_of(value)
    if array is not None:
        import numpy as np

        kind = "array" if isinstance(value, np.ndarray) else type(value).__name__
        return _array_summary(array, kind)
    if isinstance(value, (list, tuple)) and value and any(_array_of(v) is not None for v in value[:8]):
        inner = [summarise(v, limit=80) for v in value[:3]]
        more = f", ... ({len(value)} items)" if len(value) > 3 else ""
        opening, closing = ("[", "]") if isinstance(value, list) else ("(", ")")
        return opening + ", ".join(inner) + more + closing
    if type(value).__module__ == "numpy" and hasattr(value, "dtype") and getattr(value, "ndim", 1) == 0:
        return f"{_number(value)} ({value.dtype})"
    try:
        text = repr(value)
    except Exception as error:
        text = f"<{type(value).__name__} whose repr failed: {type(error).__name__}>"
    text = " ".join(text.split()) if "\n" in text else text
    if len(text) <= limit:
        return text
    return text[:limit - 4] + " ..."


def difference(got: Any, expected: Any) -> str | None:
    """Where two arrays differ most, or that their shapes differ; None when that says nothing new."""
    import numpy as np

    try:
        a = _array_of(got)
        a = np.asarray(got) if a is None else a
        b = _array_of(expected)
        b = np.asarray(expected) if b is None else b
    except Exception:
        return None
    if a.dtype == object or b.dtype == object or (a.size <= 1 and b.size <= 1):
        return None
    if a.shape != b.shape:
        try:
            np.broadcast_shapes(a.shape, b.shape)
        except ValueError:
            return f"the shapes differ: got {tuple(a.shape)}, expected {tuple(b.shape)}"
        if a.size != b.size and b.size != 1:
            return f"the shapes differ: got {tuple(a.shape)}, expected {tuple(b.shape)}"
    try:
        a_, b_ = np.broadcast_arrays(a.astype(np.float64), b.astype(np.float64))
    except Exception:
        return None
    gap = np.abs(a_ - b_)
    bad = ~((gap <= 1e-6 + 1e-5 * np.abs(b_)) | (np.isnan(a_) & np.isnan(b_)))
    if not bad.any():
        return None
    gap = np.where(np.isnan(gap), np.inf, gap)
    where = np.unravel_index(int(np.argmax(np.where(bad, gap, -1))), a_.shape)
    index = tuple(int(i) for i in where)
    shown = index[0] if len(index) == 1 else index
    if a.dtype == bool and b.dtype == bool:              # truth values: say them as such, not 1 and 0
        return (f"{int(bad.sum())} of {bad.size} values differ; the first is at {shown}: "
                f"got {bool(a_[where])}, expected {bool(b_[where])}")
    return (f"{int(bad.sum())} of {bad.size} values differ; the largest difference is at {shown}: "
            f"got {_number(a_[where])}, expected {_number(b_[where])}")


def short_lines(text: str, lines: int = 12) -> str:
    """`text` with no line longer than a screen and at most `lines` lines."""
    out = []
    for line in text.splitlines()[:lines]:
        out.append(line if len(line) <= _LINE else line[:_LINE - 4] + " ...")
    if len(text.splitlines()) > lines:
        out.append("...")
    return "\n".join(out)


_EXPLAINED_CALL = re.compile(r"where (?:False|np\.False_|0) = (?:[\w.]+\.)?(\w+)\((.*)\)\s*$")
_EXPLAINED_EQ = re.compile(r"^(?:AssertionError:\s*)?assert (.+?) == (.+)$")


def _split_arguments(text: str) -> list[str]:
    """`a, f(b, c), [d, e]` -> ["a", "f(b, c)", "[d, e]"]: commas at bracket depth 0."""
    parts, depth, start, quote = [], 0, 0, ""
    for index, char in enumerate(text):
        if quote:
            quote = "" if char == quote and text[index - 1] != "\\" else quote
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:index].strip())
            start = index + 1
    parts.append(text[start:].strip())
    return parts


def explained_pair(message: str) -> tuple[str, str] | None:
    """("got", "expected") from the text of a rewritten assert: `assert got == expected`, or the
    `where False = allclose(got, expected)` line of `assert np.allclose(got, expected)`."""
    for line in message.strip().splitlines():
        match = _EXPLAINED_EQ.match(line.strip())
        if match:
            got, expected = match[1], match[2]
            # pytest writes `assert a == b or ...` as `assert (a == b` (and `x == y and ...` as
            # `assert (x == y)`): the bracket around the whole condition is not part of either side
            if got.startswith("(") and got.count("(") > got.count(")"):
                got = got[1:]
            if expected.endswith(")") and expected.count(")") > expected.count("("):
                expected = expected[:-1]
            return got, expected
    for line in message.strip().splitlines():
        match = _EXPLAINED_CALL.search(line)
        if match and match[1] in _COMPARERS:
            arguments = _split_arguments(match[2])
            if len(arguments) >= 2:
                return arguments[0], arguments[1]
    return None


def install_summaries() -> None:
    """Make pytest's rewritten asserts show `summarise(value)` for every value they report."""
    from _pytest.assertion import rewrite

    def saferepr(obj: object) -> str:
        import types

        if isinstance(obj, types.MethodType):
            return obj.__name__
        if callable(obj) and not isinstance(obj, type) and isinstance(getattr(obj, "__name__", None), str):
            try:
                if repr(obj).startswith("<"):            # <function allclose at 0x7f...>: its name
                    return obj.__name__
            except Exception:
                pass
        return summarise(obj).replace("\n", "\\n")

    rewrite._saferepr = saferepr


# ---------------------------------------------------------------- the two sides of a comparison

def _statement_at(tree: ast.AST, lineno: int):
    """The innermost assert or expression statement spanning line `lineno`."""
    found = None
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assert, ast.Expr)) and node.lineno <= lineno <= (node.end_lineno or node.lineno):
            if found is None or node.lineno >= found.lineno:
                found = node
    return found


def _name(func: ast.AST) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _sides(test: ast.AST) -> list[tuple[ast.AST, ast.AST]]:
    """Candidate (got, expected) expressions of a condition, in order."""
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And):
        return [pair for value in test.values for pair in _sides(value)]
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq):
        return [(test.left, test.comparators[0])]
    if isinstance(test, ast.Call):
        name = _name(test.func)
        if name in _COMPARERS and len(test.args) >= 2:
            return [(test.args[0], test.args[1])]
        if name == "all" and isinstance(test.func, ast.Attribute) and not test.args:
            return _sides(test.func.value)                       # (a == b).all()
        if name == "all" and len(test.args) == 1:
            return _sides(test.args[0])                          # np.all(a == b)
    return []


def _safe(node: ast.AST, namespace: dict) -> bool:
    """True when evaluating `node` again cannot run a learner's code or change anything."""
    if isinstance(node, (ast.Constant, ast.Name)):
        return True
    if isinstance(node, ast.Attribute):
        return _safe(node.value, namespace)
    if isinstance(node, ast.Subscript):
        return _safe(node.value, namespace) and _safe(node.slice, namespace)
    if isinstance(node, ast.Slice):
        return all(part is None or _safe(part, namespace) for part in (node.lower, node.upper, node.step))
    if isinstance(node, (ast.Tuple, ast.List)):
        return all(_safe(item, namespace) for item in node.elts)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return _safe(node.operand, namespace)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
            and isinstance(node.func.value, ast.Name) and node.func.attr in _NUMPY_CONSTRUCTORS:
        module = namespace.get(node.func.value.id)
        return getattr(module, "__name__", "") == "numpy" and all(_safe(a, namespace) for a in node.args) \
            and all(_safe(k.value, namespace) for k in node.keywords)
    return False


def _differs(got: Any, expected: Any) -> bool:
    import numpy as np

    try:
        a, b = _array_of(got), _array_of(expected)
        if a is None and b is None and not isinstance(got, (list, tuple)) and not isinstance(expected, (list, tuple)):
            return bool(got != expected)
        a = np.asarray(got) if a is None else a
        b = np.asarray(expected) if b is None else b
        return a.shape != b.shape or not np.allclose(a, b, equal_nan=True)
    except Exception:
        return True


def compared(frame, lineno: int, source: str) -> tuple[Any, Any] | None:
    """(got, expected) of the comparison on line `lineno` (1-based) of `source`, run in `frame`."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    statement = _statement_at(tree, lineno)
    if statement is None:
        return None
    test = statement.test if isinstance(statement, ast.Assert) else statement.value
    namespace = {**frame.f_globals, **frame.f_locals}
    found = None
    for got_node, expected_node in _sides(test):
        if not (_safe(got_node, namespace) and _safe(expected_node, namespace)):
            continue
        try:
            pair = tuple(eval(compile(ast.Expression(node), "<compared>", "eval"), frame.f_globals, frame.f_locals)
                         for node in (got_node, expected_node))
        except Exception:
            continue
        if found is None:
            found = pair
        if _differs(*pair):
            return pair
    # Nothing differs to allclose's eye. One comparison failed closer than that (array_equal on
    # 1 + 1e-9): show it. In an `and` of several conditions another part failed (`... and c.grad
    # is None`): show no pair rather than one that held.
    return None if isinstance(test, ast.BoolOp) else found
