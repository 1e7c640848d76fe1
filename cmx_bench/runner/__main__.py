"""Entry point: python -m cmx_bench.runner JOB.json RESULT.json."""

import sys

from cmx_bench.runner.host import main

sys.exit(main(sys.argv[1:]))
