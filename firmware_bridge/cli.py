"""``kia bridge``: connect readers to the verifier."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .image import ImageUnreadable, payloads_from_image


@click.group()
def bridge() -> None:
    """Readers: turn what a reader sees into card payloads."""


@bridge.command("read-image")
@click.option("--raw", is_flag=True, help="Print only the payload (for piping into 'kia verifier verify -').")
@click.argument("images", nargs=-1, required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.pass_context
def read_image(ctx: click.Context, raw: bool, images: tuple[Path, ...]) -> None:
    """Decode the QR codes in IMAGES (photos or scans of cards) with zxing-cpp.

    Exits 1 if an image holds no QR code.
    """
    missing = 0
    for image in images:
        try:
            payloads = payloads_from_image(image)
        except ImageUnreadable as exc:
            raise click.BadParameter(str(exc), param_hint="IMAGES") from None
        missing += not payloads
        if raw:
            for payload in payloads:
                click.echo(payload)
        else:
            click.echo(json.dumps({"image": str(image), "payloads": payloads}))
        if not payloads:
            click.echo(f"no QR code found in {image.name}", err=True)
    if missing:
        ctx.exit(1)
