"""Where a run's weights came from, in words: random, a checkpoint, or an artifact (and what made the artifact)."""

from __future__ import annotations


def weights_origin(record: dict) -> str:
    """The weights' origin as a short tag: random_init, checkpoint, artifact:random_init, artifact:checkpoint..."""
    weights = record["config"]["weights"]
    if weights["source"] != "artifact":
        return weights["source"]
    # An artifact loaded with --weights (for parity) carries a checkpoint path of its own.
    inner = weights.get("artifact_weights_source") or ("checkpoint" if weights.get("path") else "unknown")
    return f"artifact:{inner}"


def has_random_weights(record: dict) -> bool:
    return weights_origin(record) in ("random_init", "artifact:random_init")


def random_weights_note(records: list[dict]) -> str | None:
    """One sentence naming the runs whose networks had random weights, or None."""
    random_runs = [r for r in records if has_random_weights(r)]
    if not random_runs:
        return None
    via_artifact = sum(weights_origin(r) == "artifact:random_init" for r in random_runs)
    how = f" ({via_artifact} of them from artifacts exported without --weights)" if via_artifact else ""
    return (f"{len(random_runs)} of {len(records)} runs used randomly initialised weights{how}: latency, CPU, memory "
            "and energy are real, any accuracy is not. Pass --weights (or export with --weights) for trained networks.")
