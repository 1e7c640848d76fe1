"""Model cards from models/*.toml and the torchvision networks they describe."""

from __future__ import annotations

from cmx_bench.tomlcompat import tomllib
from dataclasses import dataclass, replace
from functools import lru_cache

from cmx_bench import paths
from cmx_bench.errors import UnknownNameError

STUDENTS = ("mobilenet_v2", "shufflenet_v2_x1_0", "squeezenet1_1")


@dataclass(frozen=True)
class ModelCard:
    name: str
    display_name: str
    role: str
    torchvision_builder: str
    classes: tuple[str, ...]
    input_size: int
    resize_size: int
    grayscale_to_rgb: bool
    mean: tuple[float, ...]
    std: tuple[float, ...]
    paper_table5_name: str = ""
    paper_params: str = ""
    paper_macs: str = ""
    architecture: str = "torchvision"  # or "rf_densenet121": the paper's headed DenseNet (nets/cxr_densenet.py)

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        return (1, 3, self.input_size, self.input_size)

    def as_dict(self) -> dict:
        return {
            "name": self.name, "classes": list(self.classes), "input_size": self.input_size,
            "resize_size": self.resize_size, "grayscale_to_rgb": self.grayscale_to_rgb,
            "mean": list(self.mean), "std": list(self.std),
        }


@lru_cache(maxsize=None)
def all_cards() -> dict[str, ModelCard]:
    cards = {}
    for path in sorted(paths.models_dir().glob("*.toml")):
        with open(path, "rb") as handle:
            raw = tomllib.load(handle)
        for key in ("classes", "mean", "std"):
            raw[key] = tuple(raw[key])
        cards[raw["name"]] = ModelCard(**raw)
    return cards


def get_card(name: str) -> ModelCard:
    cards = all_cards()
    if name not in cards:
        raise UnknownNameError(f"unknown model '{name}'; choose one of: {', '.join(sorted(cards))}")
    return cards[name]


def card_at_input_size(card: ModelCard, size: int) -> ModelCard:
    """The same card for a smaller or larger input; the resize keeps the card's resize / crop ratio."""
    if size == card.input_size:
        return card
    return replace(card, input_size=int(size), resize_size=int(round(size * card.resize_size / card.input_size)))


def card_for_trained(card: ModelCard, weights_facts: dict) -> ModelCard:
    """The card at the input size a checkpoint was trained at (cmx-bench trainer metadata), else unchanged."""
    size = (weights_facts.get("trained") or {}).get("input_size")
    return card_at_input_size(card, size) if size else card


def build_model(card: ModelCard):
    """The card's network with a len(classes)-way head, randomly initialised (never downloads weights)."""
    import torchvision

    if card.architecture == "rf_densenet121":
        from cmx_bench.nets.cxr_densenet import rf_network

        return rf_network().eval()

    builder = getattr(torchvision.models, card.torchvision_builder)
    model = builder(weights=None, num_classes=len(card.classes))
    return model.eval()
