"""Each library installs alone in a fresh virtual environment and imports without
pulling the other libraries or their heavy dependencies."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TORCH_SPEC = os.environ.get("TORCH_SPEC", "torch==2.13.0")

# (package dir, import name, modules that must be importable, modules that must not be)
LIBRARIES = [
    (
        "packages/env-babyai-text",
        "glam_env",
        ["gymnasium", "minigrid", "pydantic"],
        ["torch", "transformers", "glam_policy", "glam_ppo", "glam_apps"],
    ),
    (
        "packages/llm-policy",
        "glam_policy",
        ["torch", "transformers", "tokenizers", "safetensors", "pydantic"],
        ["gymnasium", "minigrid", "glam_env", "glam_ppo", "glam_apps"],
    ),
    (
        "packages/ppo",
        "glam_ppo",
        ["torch", "numpy", "gymnasium", "pydantic"],
        ["transformers", "minigrid", "glam_env", "glam_policy", "glam_apps"],
    ),
]

CHECK = """
import importlib, importlib.util, sys
name, present, absent = sys.argv[1], sys.argv[2].split(","), sys.argv[3].split(",")
importlib.import_module(name)
missing = [m for m in present if importlib.util.find_spec(m) is None]
leaked = [m for m in absent if importlib.util.find_spec(m) is not None]
assert not missing, f"{name}: dependencies not installed: {missing}"
assert not leaked, f"{name}: pulled foreign packages: {leaked}"
print("ok", name)
"""


def _install_and_check(
    tmp: Path, package: str, name: str, present: list[str], absent: list[str]
) -> str:
    env_dir = tmp / f"venv-{name}"
    workdir = tmp / f"cwd-{name}"  # empty, so nothing on the path shadows a package
    workdir.mkdir()
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    python = env_dir / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "--quiet"]
    if "torch" in present:
        # Install the pinned torch first so the package's range resolves to it
        # instead of pulling the newest build with its CUDA packages.
        subprocess.run([*pip, TORCH_SPEC], check=True, capture_output=True, text=True)
    subprocess.run([*pip, str(REPO / package)], check=True, capture_output=True, text=True)
    result = subprocess.run(
        [str(python), "-c", CHECK, name, ",".join(present), ",".join(absent)],
        capture_output=True,
        text=True,
        cwd=workdir,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.slow
def test_each_library_installs_and_imports_alone(tmp_path: Path) -> None:
    with ThreadPoolExecutor(max_workers=len(LIBRARIES)) as pool:
        futures = [
            pool.submit(_install_and_check, tmp_path, package, name, present, absent)
            for package, name, present, absent in LIBRARIES
        ]
        outputs = [future.result() for future in futures]
    assert outputs == [f"ok {name}" for _, name, _, _ in LIBRARIES]


def test_running_interpreter_is_the_project_venv() -> None:
    """Guards the assumption above: the suite runs from the venv `make` built."""
    assert sys.prefix != sys.base_prefix
