"""`cmx-bench data ...`: prepare manifests, synthesise snapshots, write phantoms."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from cmx_bench.cli.options import SkipBad
from cmx_bench.cli.render import console

app = typer.Typer(help="Data sets: manifests and patient splits, snapshot twins, synthetic phantoms.",
                  no_args_is_help=True)


@app.command()
def prepare(
    out: Path = typer.Option(..., "--out", "-o", help="Manifest CSV to write."),
    manifest: Optional[Path] = typer.Option(None, "--manifest", help="An existing file,label,patient_id[,source] CSV, or class folders."),
    covid_chestxray: Optional[Path] = typer.Option(None, "--covid-chestxray", help="ieee8023/covid-chestxray-dataset."),
    kermany: Optional[Path] = typer.Option(None, "--kermany", help="Kermany chest_xray/ folder."),
    rsna: Optional[Path] = typer.Option(None, "--rsna", help="RSNA pneumonia challenge folder."),
    seed: int = typer.Option(0, "--seed", help="Seed of the patient split."),
    split: str = typer.Option("7:1:2", "--split", metavar="TRAIN:VAL:TEST",
                              help="Share of each class's images in each part (the paper's 7:1:2)."),
    skip_bad: SkipBad = False,
):
    """Build a 3-class manifest with a stratified patient-level split, 7:1:2 by default (no patient in two parts)."""
    from cmx_bench.data.images import list_images
    from cmx_bench.data.prepare import prepare_manifest
    from cmx_bench.data.split import parse_split_ratio

    fractions = parse_split_ratio(split)
    skipped: list[str] | None = [] if skip_bad else None
    existing = list_images(manifest, ("covid", "normal", "pneumonia"), skipped=skipped) if manifest else None
    counts = prepare_manifest(out, covid_chestxray=covid_chestxray, kermany=kermany, rsna=rsna, existing=existing,
                              fractions=fractions, seed=seed)
    for split, per_class in counts.items():
        console.print(f"{split:5s} " + "  ".join(f"{label} {n}" for label, n in per_class.items()))
    if skipped:
        console.print(f"[yellow]skipped {len(skipped)} bad row(s)[/]: {skipped[0]}")
    console.print(f"manifest: {out}")


@app.command()
def snapshots(
    data: Path = typer.Argument(..., help="Clean images: class folders or manifest."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the snapshot twins."),
    seed: int = typer.Option(0, "--seed"),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Leave out unreadable images (counted) instead of stopping."),
):
    """Synthesise the paper's noisy phone snapshots (moire, noise, perspective, JPEG, 8-bit grayscale)."""
    from cmx_bench.data.snapshot_set import make_snapshot_set

    from rich.progress import Progress

    with Progress(console=console) as progress:
        task = progress.add_task("synthesising snapshots", total=None)
        result = make_snapshot_set(data, out, seed=seed, skip_bad=skip_bad, on_image=lambda: progress.advance(task))
    if result["skipped"]:
        console.print(f"[yellow]skipped {len(result['skipped'])} bad input(s)[/]: {result['skipped'][0]}")
    console.print(f"{result['images']} snapshots; manifest {result['manifest']}; contact sheet {result['contact_sheet']}")


@app.command()
def phantoms(
    out: Path = typer.Option(..., "--out", "-o", help="Folder for covid/ normal/ pneumonia/ images."),
    per_class: int = typer.Option(60, "--per-class", min=1),
    size: int = typer.Option(256, "--size", min=32),
    seed: int = typer.Option(0, "--seed"),
):
    """Write a synthetic 3-class chest-like data set for tests and demos."""
    from cmx_bench.data.phantoms import write_phantom_folder

    write_phantom_folder(out, per_class, size, seed)
    console.print(f"{3 * per_class} phantom images in {out}")


@app.command()
def cache(
    manifest: Path = typer.Argument(..., help="Manifest CSV (file,label,patient_id[,source,split])."),
    out: Path = typer.Option(..., "--out", "-o", help="Cache folder: pixels.u8 and index.json."),
    size: int = typer.Option(128, "--size", min=32, help="The --input-size you will train at; images are stored "
                                                        "at the cards' resize size for it (146 px for 128)."),
    workers: int = typer.Option(1, "--workers", min=1, help="Decoding processes."),
):
    """Decode every image once into a memory-mapped uint8 cache that 'train --cache' reads (data larger than memory)."""
    from rich.progress import Progress

    from cmx_bench.data.cache import build_cache
    from cmx_bench.data.images import list_images

    items = list_images(manifest, ("covid", "normal", "pneumonia"))
    with Progress(console=console) as progress:
        task = progress.add_task(f"decoding with {workers} worker(s)", total=len(items))
        result = build_cache(manifest, out, size, workers=workers, items=items,
                             on_image=lambda: progress.advance(task))
    console.print(f"{result['images']} images, {result['bytes'] / 1e6:.1f} MB at shorter side "
                  f"{result['resize_size']} px in {result['folder']}; train with --cache {result['folder']} "
                  f"--input-size {size}")
