"""Every distribution builds an sdist and, from that sdist, a wheel (``python -m build``),
and the four wheels install in a fresh virtual environment that does not see the
repository: what a user gets from ``pip install glam-apps``.

Kept fast: the builds run without isolation (hatchling and build come from
requirements-dev.txt, nothing is downloaded), and the fresh environment gets only
the glam wheels (``--no-deps``); it reaches the third-party dependencies through
a ``.pth`` line naming this interpreter's site-packages, a folder whose own
``.pth`` files (the editable installs of the repository) Python does not read.
Each glam module must then import from the fresh environment's site-packages.
tests/test_install_alone.py installs each library with its real dependencies.
"""

from __future__ import annotations

import email.parser
import importlib.util
import json
import os
import re
import subprocess
import sys
import sysconfig
import tarfile
import venv
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]

# package folder -> (distribution name on the index, import name)
PACKAGES = {
    "packages/env-babyai-text": ("glam-env-babyai-text", "glam_env"),
    "packages/llm-policy": ("glam-llm-policy", "glam_policy"),
    "packages/ppo": ("glam-ppo", "glam_ppo"),
    "apps": ("glam-apps", "glam_apps"),
}


def source_version(folder: str, module: str) -> str:
    """``__version__`` as written in the package's ``__init__.py`` (what the build reads)."""
    text = (REPO / folder / "src" / module / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__ = "([^"]+)"$', text, flags=re.MULTILINE)
    assert match, f"{folder}: no __version__ line"
    return match.group(1)


def normalized(name: str) -> str:
    return name.replace("-", "_")


def package_files(folder: str, module: str) -> set[str]:
    """The files a wheel must carry: every file of the source package but bytecode."""
    root = REPO / folder / "src"
    return {
        path.relative_to(root).as_posix()
        for path in (root / module).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sdists and wheels of the four distributions, the wheels built from the sdists."""
    for tool in ("build", "hatchling"):
        assert importlib.util.find_spec(tool), (
            f"{tool} missing: pip install -r requirements-dev.txt"
        )
    out = tmp_path_factory.mktemp("dist")

    def build(folder: str) -> None:
        result = subprocess.run(
            [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), folder],
            cwd=REPO,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, f"{folder}: {result.stdout[-2000:]}{result.stderr[-2000:]}"

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(build, PACKAGES))
    return out


def wheel_of(dist: Path, distribution: str, version: str) -> Path:
    return dist / f"{normalized(distribution)}-{version}-py3-none-any.whl"


def metadata(wheel: Path) -> email.message.Message:
    name = wheel.name.split("-py3-")[0]
    with zipfile.ZipFile(wheel) as archive:
        text = archive.read(f"{name}.dist-info/METADATA").decode("utf-8")
    return email.parser.Parser().parsestr(text)


def test_each_distribution_builds_one_sdist_and_one_wheel(dist: Path) -> None:
    expected = set()
    for folder, (distribution, module) in PACKAGES.items():
        version = source_version(folder, module)
        expected |= {
            wheel_of(dist, distribution, version).name,
            f"{normalized(distribution)}-{version}.tar.gz",
        }
    assert {path.name for path in dist.iterdir()} == expected


@pytest.mark.parametrize("folder", list(PACKAGES))
def test_wheel_carries_every_package_file(dist: Path, folder: str) -> None:
    distribution, module = PACKAGES[folder]
    wheel = wheel_of(dist, distribution, source_version(folder, module))
    with zipfile.ZipFile(wheel) as archive:
        shipped = {name for name in archive.namelist() if name.startswith(f"{module}/")}
    assert shipped == package_files(folder, module)
    assert f"{module}/py.typed" in shipped  # type hints reach the users' checkers
    if module == "glam_apps":
        configs = {name for name in shipped if re.fullmatch(r"glam_apps/configs/\w+\.yaml", name)}
        assert "glam_apps/configs/quickstart.yaml" in configs and len(configs) >= 2


@pytest.mark.parametrize("folder", list(PACKAGES))
def test_sdist_carries_sources_readme_and_tests(dist: Path, folder: str) -> None:
    distribution, module = PACKAGES[folder]
    stem = f"{normalized(distribution)}-{source_version(folder, module)}"
    with tarfile.open(dist / f"{stem}.tar.gz") as archive:
        names = {name.removeprefix(f"{stem}/") for name in archive.getnames()}
    assert {"PKG-INFO", "pyproject.toml", "README.md", f"src/{module}/__init__.py"} <= names
    assert any(name.startswith("tests/test_") for name in names)
    assert not any("__pycache__" in name for name in names)


@pytest.mark.parametrize("folder", list(PACKAGES))
def test_wheel_metadata_is_ready_for_the_index(dist: Path, folder: str) -> None:
    distribution, module = PACKAGES[folder]
    version = source_version(folder, module)
    meta = metadata(wheel_of(dist, distribution, version))
    assert (meta["Name"], meta["Version"]) == (distribution, version)
    assert meta["License-Expression"] == "MIT"
    assert meta["Requires-Python"] == ">=3.10"
    assert meta["Description-Content-Type"] == "text/markdown"
    readme = (REPO / folder / "README.md").read_text(encoding="utf-8")
    assert meta.get_payload().strip() == readme.strip()  # the index page is the README
    assert f"pip install {distribution}" in readme  # and it says how to install


def test_the_apps_require_the_libraries_as_built(dist: Path) -> None:
    meta = metadata(wheel_of(dist, "glam-apps", source_version("apps", "glam_apps")))
    required = {Requirement(line).name: Requirement(line) for line in meta.get_all("Requires-Dist")}
    for folder, (distribution, module) in PACKAGES.items():
        if module == "glam_apps":
            continue
        requirement = required[distribution]
        assert requirement.specifier, f"{distribution}: give a version range"
        assert requirement.specifier.contains(source_version(folder, module))


def test_entry_points(dist: Path) -> None:
    def entry_points(distribution: str, folder: str, module: str) -> str:
        stem = f"{normalized(distribution)}-{source_version(folder, module)}"
        with zipfile.ZipFile(dist / f"{stem}-py3-none-any.whl") as archive:
            return archive.read(f"{stem}.dist-info/entry_points.txt").decode("utf-8")

    assert "glam = glam_apps.cli:main" in entry_points("glam-apps", "apps", "glam_apps")
    gym = entry_points("glam-env-babyai-text", "packages/env-babyai-text", "glam_env")
    assert "[gymnasium.envs]" in gym and "glam_env = glam_env.registration:register_envs" in gym


CHECK = """
import importlib, importlib.metadata, importlib.resources, json, pkgutil, sys
from pathlib import Path

site, repo, expected = Path(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
for distribution, module in expected["packages"]:
    loaded = importlib.import_module(module)
    where = Path(loaded.__file__).resolve()
    assert where.is_relative_to(site), f"{module} imported from {where}, not the fresh venv"
    assert importlib.metadata.version(distribution) == loaded.__version__, distribution
    assert importlib.resources.files(module).joinpath("py.typed").is_file(), module
    for info in pkgutil.walk_packages(loaded.__path__, prefix=f"{module}."):
        if not info.name.endswith("__main__"):  # a missing file fails here
            importlib.import_module(info.name)
sources = [entry for entry in sys.path if entry.startswith(repo) and "/src" in entry]
assert not sources, f"the repository's sources are on the path: {sources}"

from glam_apps.config.packaged import load_train_config, packaged_config_names
assert packaged_config_names() == expected["configs"], packaged_config_names()
for name in packaged_config_names():
    load_train_config(name)

import glam_env
env = glam_env.make_env(glam_env.BabyAITextConfig(level="GoToRedBallNoDists"))
obs, _ = env.reset(seed=0)
assert obs["mission"] == "go to the red ball", obs["mission"]

import tempfile
from glam_policy import LLMPolicy, make_tiny_model_dir
model = make_tiny_model_dir(tempfile.mkdtemp(), kind="decoder", size="nano")
logits, values = LLMPolicy.from_pretrained(model, value_hidden_sizes=[8])([obs])
assert logits.shape == (1, len(obs["admissible_actions"])) and values.shape == (1,)

from glam_ppo import PPOConfig
PPOConfig.preset("sb3_cartpole")
print("ok")
"""


def _site_packages(python: Path) -> Path:
    result = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(result.stdout.strip())


@pytest.mark.slow
def test_wheels_install_and_run_in_a_fresh_venv(dist: Path, tmp_path: Path) -> None:
    env_dir, workdir = tmp_path / "venv", tmp_path / "cwd"  # an empty cwd: nothing shadows
    workdir.mkdir()
    venv.EnvBuilder(with_pip=False, clear=True, symlinks=True).create(env_dir)
    python = env_dir / "bin" / "python"
    site = _site_packages(python)
    wheels = sorted(str(path) for path in dist.glob("*.whl"))
    install = [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet"]
    result = subprocess.run(
        [*install, "--no-deps", "--no-index", *wheels], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # Only now (pip would take the repository's editable installs for these wheels):
    # the third-party dependencies, from this interpreter's site-packages.
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "zz_glam_test_dependencies.pth").write_text("\n".join(sorted(deps)) + "\n")

    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    clean |= {"PYTHONNOUSERSITE": "1", "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    expected = {
        "packages": [list(pair) for pair in PACKAGES.values()],
        "configs": sorted(
            path.stem for path in (REPO / "apps/src/glam_apps/configs").glob("*.yaml")
        ),
    }
    check = subprocess.run(
        [str(python), "-c", CHECK, str(site.resolve()), str(REPO), json.dumps(expected)],
        capture_output=True,
        text=True,
        cwd=workdir,
        env=clean,
    )
    assert check.returncode == 0, check.stderr[-3000:]
    assert check.stdout.strip().endswith("ok")

    glam = env_dir / "bin" / "glam"
    version = subprocess.run([str(glam), "--version"], capture_output=True, text=True, env=clean)
    assert version.stdout.strip() == f"glam {source_version('apps', 'glam_apps')}", version.stderr
    assert subprocess.run([str(glam), "--help"], capture_output=True, env=clean).returncode == 0
