"""The ``hpjobs`` command.

Subcommands load lazily: ``hpjobs --help`` imports click and nothing else heavy, and no command
that only reads the store imports torch.

- AWS-shaped: ``hpjobs sagemaker <operation> ...`` (options generated from botocore's model)
- for people: ``hpjobs run``, ``hpjobs logs``, ``hpjobs jobs``, ``hpjobs tuning-jobs``,
  ``hpjobs metrics``
"""

from __future__ import annotations

import atexit
import gc
import importlib

import click

from hpjobs import __version__

__all__ = ["cli", "main"]

#: command name → (module:attribute, one-line help shown by ``hpjobs --help``)
_COMMANDS: dict[str, tuple[str, str]] = {
    "sagemaker": ("hpjobs.cli.aws:sagemaker", "SageMaker operations, as the AWS CLI names them."),
    "bedrock-runtime": (
        "hpjobs.cli.aws:bedrock_runtime",
        "Bedrock runtime operations (Converse, InvokeModel, ...), on a local model.",
    ),
    "bedrock": ("hpjobs.cli.aws:bedrock", "Bedrock control-plane operations, as the AWS CLI."),
    "run": ("hpjobs.cli.watch:run", "Create a training or tuning job from JSON and watch it."),
    "migrate": (
        "hpjobs.cli.cloud:migrate",
        "Print a job's JSON as a request real SageMaker accepts.",
    ),
    "serve": ("hpjobs.cli.serve:serve", "Serve the SageMaker and Bedrock APIs over HTTP."),
    "chat": ("hpjobs.cli.chat:chat", "Chat with a model; replies stream as they are generated."),
    "logs": ("hpjobs.cli.inspect:logs", "Print a training job's log."),
    "jobs": ("hpjobs.cli.inspect:jobs", "Training jobs as a table."),
    "metrics": ("hpjobs.cli.inspect:metrics", "A training job's metrics, epoch by epoch."),
    "plot": ("hpjobs.cli.plot:plot", "Plot a training job's metrics or a tuning job's trials."),
    "tuning-jobs": ("hpjobs.cli.inspect:tuning_jobs", "Hyperparameter tuning jobs as a table."),
    "templates": ("hpjobs.cli.init:templates", "List the examples 'hpjobs init' writes."),
    "init": ("hpjobs.cli.init:init", "Write a ready-to-run example into a folder."),
    "completion": ("hpjobs.cli.init:completion", "Print the shell completion script."),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported only when one is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, attribute = target[0].partition(":")
        command: click.Command = getattr(importlib.import_module(module), attribute)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_text) for name, (_, help_text) in sorted(_COMMANDS.items())]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hpjobs")
def cli() -> None:
    """Run SageMaker training jobs on this machine from the JSON you send to AWS.

    State lives in $HPJOBS_HOME (default ~/.hpjobs); HPJOBS_DATABASE_URL selects another
    database.
    """


def main() -> None:
    # A command imports SQLAlchemy and botocore data and makes no garbage cycles worth collecting
    # before its work starts: no collections until then (a long-running command re-enables them
    # through ``hpjobs._settle.settle``), and the final collection at exit skips what is frozen.
    gc.disable()
    atexit.register(gc.freeze)
    cli(prog_name="hpjobs")
