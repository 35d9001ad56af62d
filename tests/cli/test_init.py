"""``hpjobs templates``, ``hpjobs init`` and ``hpjobs completion``: the examples ship in the
package, each one is written ready to run from any folder, and the shells complete commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from click.testing import CliRunner

from hpjobs import shapes
from hpjobs.cli import cli
from hpjobs.cli.init import EXAMPLES, templates_dir

REPO = Path(__file__).resolve().parents[2]
HPJOBS = [sys.executable, "-m", "hpjobs"]


def run_cli(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_templates_ship_inside_the_package() -> None:
    shipped = sorted(p.relative_to(templates_dir()) for p in templates_dir().rglob("*"))
    source = sorted(p.relative_to(REPO / "templates") for p in (REPO / "templates").rglob("*"))
    assert shipped == source


def test_the_wheel_carries_the_templates(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation",
         "-q", "-w", str(tmp_path)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    [wheel] = tmp_path.glob("hpjobs-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        "hpjobs/templates/" + p.relative_to(REPO / "templates").as_posix()
        for p in (REPO / "templates").rglob("*")
        if p.is_file()
    }
    assert expected <= names


def test_templates_lists_every_example() -> None:
    result = run_cli("templates")
    assert result.exit_code == 0
    for name in EXAMPLES:
        assert name in result.output


def _local_paths(value: Any) -> list[str]:
    """Every local input a request names (``file://`` URIs and absolute plain paths); output
    locations are left out (they are made when the job runs)."""
    if isinstance(value, dict):
        return [p for k, v in value.items() if "output" not in k.lower() for p in _local_paths(v)]
    if isinstance(value, list):
        return [p for v in value for p in _local_paths(v)]
    if not isinstance(value, str):
        return []
    try:
        decoded = json.loads(value)
    except ValueError:
        decoded = value
    if isinstance(decoded, str) and decoded.startswith("file://"):
        return [urlparse(decoded).path]
    if isinstance(decoded, str) and decoded.startswith("/"):
        return [decoded]
    return []


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_every_example_is_written_ready_to_run(name: str, tmp_path: Path) -> None:
    target = tmp_path / "example"
    result = run_cli("init", name, str(target))
    assert result.exit_code == 0, result.output
    example = EXAMPLES[name]
    for source, dest in example.files:
        assert (target / dest).is_file()
        if not dest.endswith(".json"):
            assert (target / dest).read_bytes() == (REPO / "templates" / source).read_bytes()
    main = json.loads((target / example.files[0][1]).read_text())
    for path in _local_paths(main):
        assert Path(path).exists(), path
        assert Path(path).is_relative_to(target)
    assert "templates/" not in json.dumps(main)
    if name.startswith(("script", "builtin", "lm", "tuning")):
        operation = "CreateHyperParameterTuningJob" if "tuning" in name else "CreateTrainingJob"
        shapes.parse_request("sagemaker", operation, main)
    elif name == "customization":
        shapes.parse_request("bedrock", "CreateModelCustomizationJob", main)
    elif name == "converse":
        shapes.parse_request("bedrock-runtime", "Converse", main)
    shown = example.command.format(dir=str(target))
    assert result.output.splitlines()[-1] == f"Run it with: {shown}"


def test_an_example_runs_from_another_folder(tmp_path: Path) -> None:
    made = subprocess.run(
        [*HPJOBS, "init", "script-mode", "my-job"],
        capture_output=True, text=True, cwd=tmp_path, timeout=60, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert made.stdout.splitlines()[-1] == "Run it with: hpjobs run my-job/job.json"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    ran = subprocess.run(
        [*HPJOBS, "run", str(tmp_path / "my-job" / "job.json"), "--hp", "epochs=2"],
        capture_output=True, text=True, cwd=elsewhere, timeout=120, check=False,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "Training job wine-script-mode ended: Completed" in ran.stdout


def test_init_leaves_existing_files_alone_unless_forced(tmp_path: Path) -> None:
    target = tmp_path / "ex"
    assert run_cli("init", "builtin", str(target)).exit_code == 0
    (target / "job.json").write_text("mine")
    again = CliRunner().invoke(cli, ["init", "builtin", str(target)])
    assert again.exit_code == 1
    assert again.output.strip() == (
        f"Error: {target / 'job.json'} already exists; give --force to overwrite"
    )
    assert (target / "job.json").read_text() == "mine"
    forced = run_cli("init", "builtin", str(target), "--force")
    assert forced.exit_code == 0
    assert json.loads((target / "job.json").read_text())["TrainingJobName"] == "mlp-digits"


def test_init_refuses_an_unknown_template(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["init", "nope", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert "'nope' is not one of 'script-mode', 'builtin'," in result.output
    assert not (tmp_path / "x").exists()


def _bash_completions(words: str, index: int) -> list[str]:
    script = subprocess.run(
        [*HPJOBS, "completion", "bash"], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    hpjobs_bin = Path(sys.executable).parent / "hpjobs"
    program = (
        f"{script}\n"
        f"COMP_WORDS=({words}); COMP_CWORD={index}; _hpjobs_completion hpjobs; "
        'printf "%s\\n" "${COMPREPLY[@]}"'
    )
    env = {**os.environ, "PATH": f"{hpjobs_bin.parent}:{os.environ['PATH']}"}
    done = subprocess.run(
        ["bash", "-c", program], capture_output=True, text=True, env=env, timeout=60, check=True
    )
    return done.stdout.split()


def test_bash_completes_commands_and_operations() -> None:
    assert _bash_completions("hpjobs sag", 1) == ["sagemaker"]
    assert _bash_completions("hpjobs sagemaker describe-tr", 2) == ["describe-training-job"]
    assert "--training-job-name" in _bash_completions(
        "hpjobs sagemaker describe-training-job --tra", 3
    )
    assert "tuning-hyperband" in _bash_completions("hpjobs init tun", 2)


@pytest.mark.parametrize(
    ("shell", "marker"),
    [("zsh", "#compdef hpjobs"), ("fish", "complete --no-files --command hpjobs")],
)
def test_zsh_and_fish_scripts(shell: str, marker: str) -> None:
    result = run_cli("completion", shell)
    assert result.exit_code == 0
    assert marker in result.output
    assert "_HPJOBS_COMPLETE" in result.output
