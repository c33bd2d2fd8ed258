"""Layers follow the module order (DESIGN.md, "Module order"): a generated core file imports, when it
is imported, only from core files of its own or an earlier module, and from tinytorch.utils. A
later module is reached only through the hand-offs DESIGN.md names: an import inside a function,
at call time."""
import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# (file, function, the later module it hands its work to): DESIGN.md lists the same.
HAND_OFFS = {
    ("core/tensor.py", "backward", "tinytorch.core.autograd"),
    ("core/optimizers.py", "step", "tinytorch.core.acceleration"),
    ("core/optimizers.py", "zero_grad", "tinytorch.core.acceleration"),
}


def module_of_core_files() -> dict:
    """{"core/tensor.py": 1, ...}: the module number of each generated core file."""
    numbers = {}
    for source in sorted(ROOT.glob("src/[0-9][0-9]_*/[0-9][0-9]_*.py")):
        number = int(source.name[:2])
        for target in re.findall(r"#\| (?:default_exp|export) core\.(\w+)", source.read_text(encoding="utf-8")):
            numbers.setdefault(f"core/{target}.py", number)
    return numbers


def imports(path: Path):
    """(module imported, enclosing function or None) for every `from tinytorch... import` in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []

    def visit(node, function):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                visit(child, child.name)
            elif isinstance(child, ast.ImportFrom) and child.module and child.module.startswith("tinytorch"):
                found.append((child.module, function))
            else:
                visit(child, function)
    visit(tree, None)
    return found


def test_core_files_import_only_earlier_modules_when_imported():
    numbers = module_of_core_files()
    assert numbers, "no module sources found"
    for relative, number in numbers.items():
        for module, function in imports(ROOT / "tinytorch" / relative):
            if module.startswith("tinytorch.utils") or function is not None:
                continue
            target = "core/" + module.split(".")[-1] + ".py"
            assert numbers.get(target, 0) <= number, \
                f"{relative} (module {number:02d}) imports {module} (module {numbers.get(target)}) when imported"


def test_every_call_time_import_of_a_later_module_is_a_named_hand_off():
    numbers = module_of_core_files()
    seen = set()
    for relative, number in numbers.items():
        for module, function in imports(ROOT / "tinytorch" / relative):
            target = "core/" + module.split(".")[-1] + ".py"
            if function is not None and numbers.get(target, 0) > number:
                assert (relative, function, module) in HAND_OFFS, \
                    f"{relative}: {function}() reaches the later {module}: not a hand-off DESIGN.md names"
                seen.add((relative, function, module))
    assert seen == HAND_OFFS, f"hand-offs named but not found: {HAND_OFFS - seen}"


def importers_of(utils_module: str) -> set:
    """The module numbers of the core files that import `tinytorch.utils.<utils_module>`."""
    numbers = module_of_core_files()
    return {number for relative, number in numbers.items()
            for module, _ in imports(ROOT / "tinytorch" / relative) if module == f"tinytorch.utils.{utils_module}"}


def test_provided_infrastructure_imports_no_later_core_module_than_its_users():
    """tinytorch/utils is hand-written scaffolding: it may use core files, but a core file of module
    11 only when module 11 alone uses it (the fast paths are opt-in; nothing else provided depends
    on them)."""
    numbers = module_of_core_files()
    for path in sorted((ROOT / "tinytorch" / "utils").glob("*.py")):
        for module, function in imports(path):
            if module.startswith("tinytorch.core") and function is None:
                target = "core/" + module.split(".")[-1] + ".py"
                if numbers.get(target, 0) >= 11:
                    users = importers_of(path.stem)
                    assert users and users <= {11}, f"{path.name} imports {module} but is used by modules {users}"


def test_every_module_source_stays_under_900_lines():
    """Each module's source holds its lesson; scaffolding lives in tinytorch/utils."""
    for source in sorted(ROOT.glob("src/[0-9][0-9]_*/[0-9][0-9]_*.py")):
        count = len(source.read_text(encoding="utf-8").splitlines())
        assert count < 900, f"{source.relative_to(ROOT)} has {count} lines"
