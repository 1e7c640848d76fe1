"""cmx-bench: train, export and benchmark COVID-MobileXpert networks on phones and on the host."""

__version__ = "0.1.0"
