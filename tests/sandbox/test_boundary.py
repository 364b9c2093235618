"""The sandbox is a test double of the CRMs: product code reaches a CRM only by base URL and credentials."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT_APPS = ("accounts", "contacts", "core", "crm_sync", "integrations", "properties", "config")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_product_module_imports_the_sandbox():
    offenders = []
    for app in PRODUCT_APPS:
        for path in (ROOT / app).rglob("*.py"):
            if any(name == "sandbox" or name.startswith("sandbox.") for name in imported_modules(path)):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_the_boundary_check_sees_an_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("from sandbox import credentials\n")
    assert "sandbox" in imported_modules(module)
