"""`fuse-trt export-triton`: a Triton model repository from a bundle."""
from __future__ import annotations

from pathlib import Path

import click


@click.command("export-triton")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="Model repository directory to create (new or empty).")
def export_triton_command(bundle: Path, output: Path) -> None:
    """Write a Triton model repository from BUNDLE: its TensorRT plans as tensorrt_plan
    models and its ONNX on Triton's Python backend, one model per tier (README inside)."""
    from fuse_trt.engine.bundle import Bundle
    from fuse_trt.triton import export_triton

    models = export_triton(Bundle.load(bundle), output)
    click.echo(f"wrote {output}: {len(models)} models")
    for model in models:
        click.echo(f"  {model.name} ({model.engine}, {model.precision}, tier {model.tier})")
