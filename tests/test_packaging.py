"""Project promises: dependency lists agree, every command has --help, core stays pure, __all__ everywhere."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import click
import typer.main
import yaml
from typer.testing import CliRunner

from slo_analysis.cli import app

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _bound(requirement: str) -> str:
    """The version bound of a requirement, spaces removed (``polars >= 1.20`` -> ``>=1.20``)."""
    return requirement.strip()[len(_name(requirement)):].replace(" ", "")


def test_environment_yml_lists_the_same_runtime_packages_as_pyproject() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    runtime = {_name(r): _bound(r) for r in pyproject["project"]["dependencies"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = {_name(d): _bound(d) for d in env["dependencies"]
             if isinstance(d, str) and _name(d) not in {"python", "pip"}}
    assert "conda-forge" in env["channels"]
    assert runtime.keys() == conda.keys(), (f"only in pyproject: {runtime.keys() - conda.keys()}; "
                                            f"only in environment.yml: {conda.keys() - runtime.keys()}")
    assert runtime == conda, {n: (runtime[n], conda[n]) for n in runtime if runtime[n] != conda[n]}


def test_required_dependencies_are_declared() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    runtime = {_name(r) for r in pyproject["project"]["dependencies"]}
    dev = {_name(r) for r in pyproject["project"]["optional-dependencies"]["dev"]}
    assert {"polars", "pandas", "pyarrow", "scipy", "plotly", "boto3", "jupyterlab", "papermill",
            "nbconvert", "ipykernel", "tqdm", "typer"} <= runtime
    assert {"pytest", "moto", "hypothesis", "ruff", "mypy"} <= dev
    assert pyproject["project"]["requires-python"] == ">=3.11"


def _commands(command: click.Command, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [prefix]
    for name, sub in getattr(command, "commands", {}).items():
        out += _commands(sub, (*prefix, name))
    return out


def test_every_command_has_help() -> None:
    runner = CliRunner()
    paths = _commands(typer.main.get_command(app))
    assert ("demo", "generate") in paths and ("import",) in paths
    for path in paths:
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage" in result.output and len(result.output) > 80, path


def test_console_script_is_installed() -> None:
    exe = Path(sys.executable).with_name("slo-analysis")
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=True).stdout
    assert "import" in out and "demo" in out


def test_core_does_not_import_boto3() -> None:
    code = ("import sys, slo_analysis.core, slo_analysis.frames; "
            "print('boto3' in sys.modules, 'botocore' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_every_module_declares_all() -> None:
    missing = []
    for path in sorted((ROOT / "slo_analysis").rglob("*.py")):
        if path.name == "__main__.py":
            continue
        tree = ast.parse(path.read_text())
        names = {t.id for node in tree.body if isinstance(node, ast.Assign | ast.AnnAssign)
                 for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
                 if isinstance(t, ast.Name)}
        if "__all__" not in names:
            missing.append(str(path.relative_to(ROOT)))
    assert not missing, f"modules without __all__: {missing}"


def test_readme_quick_start_shows_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()
