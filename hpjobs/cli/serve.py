"""``hpjobs serve``: the SageMaker and Bedrock endpoint on one port."""

from __future__ import annotations

import ipaddress

import click

__all__ = ["serve"]


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--max-body-bytes",
    default=None,
    type=click.IntRange(1),
    help="Largest request body accepted (default: 26 MiB).",
)
def serve(host: str, port: int, max_body_bytes: int | None) -> None:
    """Serve the SageMaker (JSON 1.1) and Bedrock (REST-JSON) APIs for boto3, the AWS CLI and
    the SageMaker SDK: point their endpoint_url at http://HOST:PORT.

    Listens on loopback only unless --host says otherwise. Any signature is accepted unless
    HPJOBS_ACCESS_KEYS (AKID:SECRET pairs, comma-separated) is set, in which case requests must be
    signed with one of those keys. Jobs keep running when the server stops.

    A browser at http://HOST:PORT/ gets the dashboard: the jobs, a page per job with live metric
    charts, its log and hyperparameters, and a Converse playground (off while HPJOBS_ACCESS_KEYS
    is set, since a browser does not sign its requests).
    """
    import uvicorn

    from hpjobs.server import DEFAULT_MAX_BODY, create_app

    if not _loopback(host):
        click.echo(f"Warning: listening on {host}, beyond this machine.", err=True)
    from hpjobs._settle import settle
    from hpjobs.server.sigv4 import access_keys

    app = create_app(max_body_bytes or DEFAULT_MAX_BODY)
    settle("sagemaker", "bedrock", "bedrock-runtime")
    if port and not access_keys():
        shown = f"[{host}]" if ":" in host else host
        click.echo(f"Dashboard: http://{shown}:{port}/", err=True)
    uvicorn.run(app, host=host, port=port, log_level="info", timeout_graceful_shutdown=5)
