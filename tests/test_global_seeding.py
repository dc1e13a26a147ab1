"""No library function reseeds a global random stream: only a notebook's first cells do.

The rule of ``utils.notebook.seeding``: inside ``utils``, outside ``utils/notebook``,
no code calls ``set_seed``, ``torch.manual_seed`` (or its CUDA twins),
``np.random.seed`` or ``random.seed``. The one exception is
``utils.runtime.scoped.local_seed``, which seeds inside ``torch.random.fork_rng``
and so restores the caller's stream. Seeding a ``torch.Generator`` or a NumPy
``default_rng`` of one's own is fine. Read from the source (AST), so a call in a
branch no test reaches is caught too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

UTILS = Path(__file__).resolve().parents[1] / "utils"
ALLOWED = {("runtime/scoped.py", "local_seed")}  # seeds inside fork_rng, restores on exit

# Dotted call targets that reseed a process-wide stream.
GLOBAL_SEEDERS = {
    "torch.manual_seed", "torch.seed", "torch.random.manual_seed", "torch.random.seed",
    "torch.cuda.manual_seed", "torch.cuda.manual_seed_all", "torch.cuda.seed",
    "torch.cuda.seed_all", "np.random.seed", "numpy.random.seed", "random.seed",
    "torch.set_rng_state", "torch.random.set_rng_state", "np.random.set_state",
    "numpy.random.set_state", "random.setstate",
}
SEEDER_NAMES = {"set_seed", "manual_seed", "seed"}  # bare names after a `from ... import`


def _dotted(node: ast.AST) -> str | None:
    """``a.b.c`` for a chain of names and attributes, else None (e.g. ``Generator().x``)."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return ".".join([node.id, *reversed(parts)])


def violations(source: str, relative: str) -> list[str]:
    """Each global reseeding in ``source``, as 'file:line: call (in function)'."""
    tree = ast.parse(source)
    imported: set[str] = set()  # names bound by `from torch import manual_seed` and the like
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                if alias.name in SEEDER_NAMES or f"{node.module}.{alias.name}" in GLOBAL_SEEDERS:
                    imported.add(alias.asname or alias.name)
    found = []

    def visit(node: ast.AST, function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            name = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) \
                else function
            if isinstance(child, ast.Call):
                target = _dotted(child.func)
                if target is not None and (target in GLOBAL_SEEDERS or target in imported) \
                        and (relative, function) not in ALLOWED:
                    found.append(f"{relative}:{child.lineno}: {target}() in {function or 'module'}")
            visit(child, name)

    visit(tree, None)
    return found


def _library_files() -> list[Path]:
    return sorted(p for p in UTILS.rglob("*.py")
                  if p.relative_to(UTILS).parts[0] != "notebook")


def test_no_library_function_reseeds_a_global_stream():
    found = [v for path in _library_files()
             for v in violations(path.read_text(encoding="utf-8"),
                                 path.relative_to(UTILS).as_posix())]
    assert not found, ("library code reseeds a global random stream; take a seed and use "
                       "utils.runtime.local_seed or a torch.Generator:\n" + "\n".join(found))


@pytest.mark.parametrize("code", [
    "import torch\ndef f():\n    torch.manual_seed(0)\n",
    "import numpy as np\nnp.random.seed(1)\n",
    "import random\ndef f(s):\n    random.seed(s)\n",
    "from utils.notebook import set_seed\ndef f():\n    set_seed(3)\n",
    "from torch import manual_seed as ms\nms(2)\n",
    "import torch\ntorch.cuda.manual_seed_all(0)\n",
])
def test_the_scan_catches_each_way_of_reseeding(code):
    assert violations(code, "lm/example.py")


@pytest.mark.parametrize("code", [
    "import torch\ng = torch.Generator().manual_seed(0)\n",
    "import numpy as np\nrng = np.random.default_rng([0, 4])\n",
    "import torch\ndef f(g: torch.Generator):\n    g.manual_seed(1)\n",
])
def test_the_scan_allows_private_generators(code):
    assert not violations(code, "lm/example.py")


def test_only_local_seed_may_seed_inside_fork_rng():
    code = "import torch\ndef local_seed(s):\n    torch.manual_seed(s)\n"
    assert not violations(code, "runtime/scoped.py")
    assert violations(code, "runtime/other.py")
