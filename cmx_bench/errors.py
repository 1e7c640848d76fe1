"""The project's error types: each carries one line that names the thing and what to do."""


class CmxError(Exception):
    """A user-facing failure; the CLI prints its one-line message and exits 1."""


class UnknownNameError(CmxError):
    """An unknown model, device, format or profile name."""


class CheckpointError(CmxError):
    """A checkpoint that is missing, corrupt, untrusted or does not fit its model."""


class ArtifactError(CmxError):
    """A mobile artifact that is missing, corrupt, or whose sha256 no longer matches its manifest."""


class RunnerError(CmxError):
    """The runner (host process or phone app) failed to produce a valid result."""


class DataError(CmxError):
    """An image, folder or manifest that cannot be read."""


class OutputError(CmxError):
    """A report or record folder that cannot be written."""


class RecordError(CmxError):
    """A run record that is invalid, newer than this version, or not comparable."""


class ParseError(CmxError, ValueError):
    """Device or OS output without the expected layout (truncated, garbled, or from an unknown release)."""


class DeviceError(CmxError):
    """A phone that cannot be reached, refused a pre-check, or went away during a run."""
