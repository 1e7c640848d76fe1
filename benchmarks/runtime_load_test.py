"""Load the exported .pte files with another ExecuTorch release's Python runtime, and hold cmx-bench's check to it.

Run: python benchmarks/runtime_load_test.py --python OTHER_VENV/bin/python [--formats pte pte-int8]

OTHER_VENV holds the executorch release whose runtime is in question (the one the runner app pins, or an older
one), e.g. `python3 -m venv /tmp/et100 && /tmp/et100/bin/pip install executorch==1.0.0 torch==2.9.1`. It needs its
own torch: that is why it is a separate environment and why CI does not run this script.

Exports the three students (this environment's exporter, the artifact cache) and a probe program that uses
operators newer than ExecuTorch 1.0 (sin + cos, lowered to XNNPACK), asks cmx-bench's check what it expects of
the other runtime, loads each file there in its own process (a refused program may abort it) and runs one
inference, comparing the probabilities with this environment's runtime. Prints one JSON line per artifact and a
Markdown table. Exit 1 when the check said "compatible" for a file that did not load (the claim that matters);
a file the check refuses that loads anyway is reported as "conservative".
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from cmx_bench.export import lowering
from cmx_bench.export.compatibility import runtime_problem
from cmx_bench.export.formats import get_format
from cmx_bench.export.loaders import load_artifact
from cmx_bench.export.manifest import library_versions
from cmx_bench.export.service import cached_artifact
from cmx_bench.nets.checkpoint import random_init_facts
from cmx_bench.nets.registry import STUDENTS, build_model, get_card

# Runs in the other environment: load, execute once, print the outputs as JSON (or the error).
LOADER = r"""
import json, sys, numpy as np, torch
from importlib import metadata
from executorch.runtime import Runtime
x = torch.from_numpy(np.load(sys.argv[2]))
try:
    method = Runtime.get().load_program(sys.argv[1]).load_method("forward")
    out = method.execute([x])[0]
    print(json.dumps({"loaded": True, "outputs": out.reshape(-1).tolist()}))
except Exception as exc:
    print(json.dumps({"loaded": False, "error": str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__}))
"""


class SinCos(torch.nn.Module):
    def forward(self, x):
        return torch.sin(x) + torch.cos(x)


def other_runtime_version(python: str) -> str:
    return subprocess.run([python, "-c", "from importlib import metadata; print(metadata.version('executorch'))"],
                          capture_output=True, text=True, check=True).stdout.strip()


def load_elsewhere(python: str, artifact: Path, example: Path) -> dict:
    done = subprocess.run([python, "-c", LOADER, str(artifact), str(example)], capture_output=True, text=True,
                          timeout=300)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if lines:
        return json.loads(lines[-1])
    tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
    return {"loaded": False, "error": f"process ended with code {done.returncode}: {tail[:200]}"}


def artifacts(formats: list[str], folder: Path):
    for name in STUDENTS:
        card = get_card(name)
        torch.manual_seed(0)
        model = build_model(card)
        for fmt in formats:
            path = cached_artifact(card, model, random_init_facts(0), get_format(fmt))
            yield f"{name} {fmt}", path, json.loads(Path(f"{path}.manifest.json").read_text()), torch.rand(card.input_shape)
    example = torch.rand(1, 8)
    probe = folder / "sin_cos.pte"
    probe.write_bytes(lowering.to_pte(SinCos().eval(), example))
    yield "probe sin+cos pte", probe, {"versions": library_versions()}, example


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", required=True, help="Python of the environment with the other executorch")
    parser.add_argument("--formats", nargs="+", default=["pte", "pte-int8"])
    args = parser.parse_args()
    runtime = other_runtime_version(args.python)
    exporter = library_versions()["executorch"]
    rows, broken_claims = [], 0
    with tempfile.TemporaryDirectory(prefix="cmx-load-test-") as folder:
        folder = Path(folder)
        for label, path, manifest, x in artifacts(args.formats, folder):
            problem = runtime_problem("executorch", manifest, {"executorch": runtime})
            example = folder / "x.npy"
            np.save(example, x.numpy())
            there = load_elsewhere(args.python, path, example)
            here = load_artifact(path, "executorch")(x).reshape(-1)
            row = {"artifact": label, "exported_by": exporter, "runtime": runtime,
                   "check": "refused" if problem else "compatible", "loaded": there["loaded"],
                   "max_abs_diff": (float(np.abs(np.asarray(there["outputs"]) - here.numpy()).max())
                                    if there["loaded"] else None), "error": there.get("error")}
            if not problem and not there["loaded"]:
                row["verdict"], broken_claims = "CHECK WRONG: said compatible, did not load", broken_claims + 1
            elif problem and there["loaded"]:
                row["verdict"] = "conservative: refused, but loads"
            else:
                row["verdict"] = "as the check says"
            print(json.dumps(row), flush=True)
            rows.append(row)
    print("\n| artifact | exported by | runtime | check | loaded there | max abs diff | verdict |\n|---|---|---|---|---|---|---|")
    for r in rows:
        diff = "-" if r["max_abs_diff"] is None else f"{r['max_abs_diff']:.1e}"
        loaded = "yes" if r["loaded"] else f"no ({r['error']})"
        print(f"| {r['artifact']} | {r['exported_by']} | {r['runtime']} | {r['check']} | {loaded} | {diff} | {r['verdict']} |")
    return 1 if broken_claims else 0


if __name__ == "__main__":
    sys.exit(main())
