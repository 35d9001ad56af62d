"""``hpjobs templates`` and ``hpjobs init``: ready-to-run examples from the templates that ship
inside the package (``hpjobs/templates``, the project's ``templates/`` folder).

``hpjobs init TEMPLATE DIR`` copies one example's files into DIR and points its local paths at
DIR (absolute ``file://`` paths, so the example runs from any folder), then prints the command
that runs it. Existing files are left alone unless ``--force`` is given.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import click

__all__ = ["EXAMPLES", "Example", "completion", "init", "templates", "templates_dir"]


def templates_dir() -> Path:
    """Where the templates are: inside the installed package."""
    return Path(__file__).resolve().parents[1] / "templates"


@dataclass(frozen=True)
class Example:
    """One example: what it is, its files (template path → name in DIR), the folder its local
    paths name in the template, and the command that runs it (``{dir}`` is DIR)."""

    summary: str
    files: tuple[tuple[str, str], ...]
    command: str
    local_folder: str | None = None


_SCRIPT_FILES = (
    ("script-mode/train.py", "train.py"),
    ("script-mode/data/wine.csv", "data/wine.csv"),
    ("script-mode/data/README.md", "data/README.md"),
)
_FAMILY_MODELS = {
    "anthropic": "anthropic.claude-3-haiku-20240307-v1:0",
    "titan": "amazon.titan-text-express-v1",
    "llama": "meta.llama3-8b-instruct-v1:0",
    "mistral": "mistral.mistral-7b-instruct-v0:2",
    "cohere": "cohere.command-r-v1:0",
    "nova": "amazon.nova-micro-v1:0",
}
_STRATEGIES = ("bayesian", "grid", "hyperband", "random")

EXAMPLES: dict[str, Example] = {
    "script-mode": Example(
        "a training job running your own train.py (script mode) on the wine data",
        (("script-mode/job.json", "job.json"), *_SCRIPT_FILES),
        "hpjobs run {dir}/job.json",
        "templates/script-mode",
    ),
    "builtin": Example(
        "a training job of the built-in hpjobs/mlp on the shipped digits data",
        (("training-job.json", "job.json"),),
        "hpjobs run {dir}/job.json",
    ),
    "lm": Example(
        "a training job of the built-in language model hpjobs/lm on the Jargon File",
        (("lm-jargon.json", "job.json"),),
        "hpjobs run {dir}/job.json",
    ),
    **{
        f"tuning-{strategy}": Example(
            f"a {strategy.title()} tuning job of the built-in hpjobs/mlp",
            ((f"tuning/mlp-{strategy}.json", "tuning.json"),),
            "hpjobs run {dir}/tuning.json",
        )
        for strategy in _STRATEGIES
    },
    **{
        f"tuning-script-{strategy}": Example(
            f"a {strategy.title()} tuning job of your own train.py",
            ((f"tuning/script-{strategy}.json", "tuning.json"), *_SCRIPT_FILES),
            "hpjobs run {dir}/tuning.json",
            "templates/script-mode",
        )
        for strategy in _STRATEGIES
    },
    "converse": Example(
        "a Bedrock Converse request answered by the local model",
        (("bedrock/converse.json", "converse.json"),),
        "hpjobs bedrock-runtime converse --cli-input-json file://{dir}/converse.json",
    ),
    **{
        f"invoke-{family}": Example(
            f"an InvokeModel body in the {family} format",
            ((f"bedrock/invoke-{family}.json", "body.json"),),
            f"hpjobs bedrock-runtime invoke-model --model-id {model} "
            "--body file://{dir}/body.json {dir}/reply.json",
        )
        for family, model in _FAMILY_MODELS.items()
    },
    "customization": Example(
        "a Bedrock fine-tuning job with its prompt/completion data",
        (
            ("customization/fine-tuning.json", "fine-tuning.json"),
            ("customization/train.jsonl", "train.jsonl"),
            ("customization/validation.jsonl", "validation.jsonl"),
        ),
        "hpjobs bedrock create-model-customization-job "
        "--cli-input-json file://{dir}/fine-tuning.json",
        "templates/customization",
    ),
}


@click.command()
def templates() -> None:
    """List the examples 'hpjobs init' writes."""
    from rich.console import Console
    from rich.table import Table

    table = Table("Template", "What it is", "Files")
    for name, example in EXAMPLES.items():
        table.add_row(name, example.summary, ", ".join(dest for _, dest in example.files))
    Console().print(table)


@click.command()
@click.argument("template", default="script-mode", type=click.Choice(list(EXAMPLES)))
@click.argument("directory", required=False, type=click.Path(file_okay=False))
@click.option("--force", is_flag=True, help="Overwrite files that are already there.")
def init(template: str, directory: str | None, force: bool) -> None:
    """Write the example TEMPLATE (default: script-mode) into DIRECTORY (default: a folder named
    after the template) and print the command that runs it. 'hpjobs templates' lists them."""
    example = EXAMPLES[template]
    target = Path(directory or template).expanduser().absolute()
    source = templates_dir()
    planned = [(source / src, target / dest) for src, dest in example.files]
    existing = [str(dest) for _, dest in planned if dest.exists()]
    if existing and not force:
        raise click.ClickException(
            f"{', '.join(existing)} already exist{'s' if len(existing) == 1 else ''}; "
            "give --force to overwrite"
        )
    for src, dest in planned:
        dest.parent.mkdir(parents=True, exist_ok=True)
        data = src.read_bytes()
        if example.local_folder is not None and src.suffix == ".json":
            text = data.decode("utf-8").replace(example.local_folder, str(target))
            data = text.encode("utf-8")
        temporary = dest.with_name(f".{dest.name}.tmp")
        temporary.write_bytes(data)
        os.replace(temporary, dest)
        click.echo(f"wrote {dest}")
    click.echo(f"Run it with: {example.command.format(dir=_shown(target))}")


def _shown(path: Path) -> str:
    """``path`` relative to the working folder when it is below it, else absolute."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


@click.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the shell completion script for SHELL.

    \b
    bash:  eval "$(hpjobs completion bash)"        (in ~/.bashrc)
    zsh:   eval "$(hpjobs completion zsh)"         (in ~/.zshrc)
    fish:  hpjobs completion fish > ~/.config/fish/completions/hpjobs.fish
    """
    from click.shell_completion import get_completion_class

    from hpjobs.cli import cli

    kind = get_completion_class(shell)
    assert kind is not None  # every choice is a shell click supports
    click.echo(kind(cli, {}, "hpjobs", "_HPJOBS_COMPLETE").source())
