"""`python -m cmx_bench` is the command line, so that launchers such as `torchrun -m cmx_bench` need nothing else."""

from cmx_bench.cli.main import main

if __name__ == "__main__":
    main()
