"""Write what a PyTorch Lite release reads, as JSON, for cmx-bench's checks before a run.

Run it with the Python of that release's own torch (for 1.13.1: CPython 3.10, `pip install torch==1.13.1`):

    python make_pytorch_lite_table.py SAMPLE.ptl > pytorch_lite-1.13.1.json

Operators: every schema registered in that torch (the published Lite AARs carry the full operator set), with its
argument count, since a newer operator version adds arguments. Bytecode versions: probed, not assumed: SAMPLE.ptl
(any .ptl) is rewritten at each version from 1 to 15 and loaded with that release's lite interpreter.
"""

import io
import json
import sys
import tempfile
import zipfile

import torch
from torch.jit.mobile import _load_for_lite_interpreter


def with_bytecode_version(data: bytes, version: int) -> bytes:
    """The same .ptl with the version number in model/bytecode.pkl changed (pickle protocol 2: K <byte>)."""
    source, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as target:
        for item in source.infolist():
            payload = source.read(item)
            if item.filename.endswith("bytecode.pkl"):
                assert payload[:3] == b"\x80\x02K", "unexpected bytecode.pkl layout"
                payload = payload[:3] + bytes([version]) + payload[4:]
            target.writestr(item, payload)
    return out.getvalue()


def loads(data: bytes) -> bool:
    with tempfile.NamedTemporaryFile(suffix=".ptl") as handle:
        handle.write(data)
        handle.flush()
        try:
            _load_for_lite_interpreter(handle.name)
            return True
        except RuntimeError:
            return False


def main(sample: str) -> None:
    data = open(sample, "rb").read()
    readable = [v for v in range(1, 16) if loads(with_bytecode_version(data, v))]
    operators = {}
    for schema in torch._C._jit_get_all_schemas():
        name = f"{schema.name}.{schema.overload_name}" if schema.overload_name else schema.name
        operators[name] = max(operators.get(name, 0), len(schema.arguments))
    json.dump({"runtime": "pytorch_lite", "version": torch.__version__.split("+")[0],
               "bytecode_versions": [min(readable), max(readable)], "bytecode_versions_probed": readable,
               "operators": dict(sorted(operators.items())),
               "made_with": f"make_pytorch_lite_table.py in torch {torch.__version__}, Python {sys.version.split()[0]}"},
              sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
