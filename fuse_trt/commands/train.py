"""`fuse-trt train`: train the blend UNet from a fixed seed and write a bundle."""
from __future__ import annotations

from pathlib import Path

import click

CONFIG_CHOICES = ("default", "narrow", "tiny")  # the keys of training.loop.TRAIN_CONFIGS


@click.command("train")
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="Bundle directory to write (weights, ONNX, manifest, training.json).")
@click.option("--minutes", type=click.FloatRange(min=0.0, min_open=True), default=None,
              help="Wall-clock cap. The schedule is fixed in steps; a run the cap stops "
                   "early does not reproduce the shipped weights.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--config", "config_name", type=click.Choice(CONFIG_CHOICES), default="default",
              show_default=True,
              help="default: the shipped model; narrow: its trunk at half the channels "
                   "(benchmarks/model_width/); tiny: a smoke test.")
@click.option("--log", "log_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Loss log (tab-separated, one line per step); default OUTPUT/train_loss.tsv.")
def train_command(output: Path, minutes: float | None, seed: int, config_name: str,
                  log_path: Path | None) -> None:
    """Train the blend UNet on natural images that ship in packages (self-supervised)."""
    from tqdm import tqdm

    from fuse_trt.training.loop import TRAIN_CONFIGS
    from fuse_trt.training.run import TrainRun, train_bundle

    total = sum(phase.steps for phase in TRAIN_CONFIGS[config_name].phases)
    with tqdm(total=total, unit="step", desc=f"train {config_name}") as bar:
        def on_step(record) -> None:
            bar.set_postfix(phase=record.phase, loss=f"{record.loss:.4f}", refresh=False)
            bar.update(1)

        bundle = train_bundle(output, TrainRun(config_name, seed, minutes), log_path, on_step)
    click.echo(f"bundle {bundle.directory}: " + ", ".join(
        f"{a.file} ({a.kind}/{a.precision})" for a in bundle.manifest.artifacts))
