"""``mimetic models`` (the model files in use) and ``mimetic serve`` (the web app)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from mimetic.cli.common import err, exit_on_error


def models(
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """List every model file in use with its path, size and SHA-256."""
    from mimetic.face.model import model_files

    with exit_on_error():
        rows = model_files()
    if as_json:
        import json

        typer.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        typer.echo(f"{r['name']}\n  role:   {r['role']}\n  path:   {r['path']}\n  size:   {r['size']:,} bytes\n"
                   f"  sha256: {r['sha256']}")


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on (0.0.0.0: every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8000,
    data_dir: Annotated[Optional[Path], typer.Option("--data-dir", help="Where jobs, results and the database live "
                                                     "(default: $MIMETIC_DATA_DIR or ~/.local/share/mimetic).")] = None,
    database_url: Annotated[Optional[str], typer.Option("--database-url", help="SQLAlchemy URL (default: "
                                                        "$MIMETIC_DATABASE_URL or SQLite in the data directory).")] = None,
    image_workers: Annotated[Optional[int], typer.Option("--image-workers", min=1, help="Threads analysing photos, "
                                                         "each with its own analyzer (default 2).")] = None,
    job_workers: Annotated[Optional[int], typer.Option("--job-workers", min=1, help="Threads running video jobs "
                                                       "(default 1).")] = None,
    allowed_hosts: Annotated[Optional[str], typer.Option("--allowed-hosts", help="Host names the server answers "
                                                         "to, comma-separated (default: the loopback names when "
                                                         "listening on 127.0.0.1, else any).")] = None,
    forwarded_allow_ips: Annotated[Optional[str], typer.Option("--forwarded-allow-ips", help="Proxy addresses whose "
                                                               "X-Forwarded-For/-Proto are believed, comma-separated "
                                                               "(default: none).")] = None,
    log_level: Annotated[str, typer.Option("--log-level", help="debug, info, warning or error.")] = "info",
) -> None:
    """Start the web app: photo, video and live webcam pages and the JSON API (docs at /docs)."""
    try:
        from mimetic.web.serve import serve as run_server
        from mimetic.web.settings import Settings
    except ImportError as e:  # the web dependencies are missing
        err(f"the web app needs its dependencies ({e.name}); install mimetic with its default dependencies")
        raise typer.Exit(1)
    try:
        settings = Settings.from_env(host=host, port=port, data_dir=data_dir, database_url=database_url,
                                     image_workers=image_workers, job_workers=job_workers,
                                     allowed_hosts=allowed_hosts, forwarded_allow_ips=forwarded_allow_ips)
    except ValueError as e:
        err(str(e))
        raise typer.Exit(2)
    with exit_on_error():  # e.g. another server holds the data directory
        run_server(settings, log_level=log_level.lower())
