"""ShuffleNetV2 planned without channel shuffles: the pieces follow torchvision's ops, the network its outputs."""

import pytest
import torch
import torchvision
from torchvision.models.shufflenetv2 import channel_shuffle

from cmx_bench.export.lowering import WithSoftmax
from cmx_bench.export.shuffle_plan import (PlannedShuffleNetV2, gather, plan_shuffles, read_ranges, shuffled_concat,
                                           split_halves, whole)

aten = torch.ops.aten


def test_pieces_follow_torchvision_chunk_and_shuffle_on_channel_ids():
    """Each tensor's channels carry unique ids; what the plan reads must be, channel for channel, what torchvision's
    chunk and channel_shuffle give, in the order the plan says (the order its reader's weight is permuted to)."""
    width, counter = 16, iter(range(10_000))

    def fresh():
        return torch.tensor([float(next(counter)) for _ in range(width)]).view(1, width, 1, 1)

    sources = [torch.zeros(1, 1, 1, 1), fresh(), fresh()]
    reference = channel_shuffle(torch.cat((sources[1], sources[2]), 1), 2)
    pieces = shuffled_concat([whole(1, width)], [whole(2, width)])
    for _ in range(5):
        x1, x2 = reference.chunk(2, dim=1)
        first, second = split_halves(pieces, width)
        reads, order = gather(second)
        assert torch.equal(read_ranges(sources, reads).flatten(), x2.flatten()[order])
        sources.append(fresh())
        reference = channel_shuffle(torch.cat((x1, sources[-1]), 1), 2)
        pieces = shuffled_concat(first, [whole(len(sources) - 1, width)])
    reads, order = gather(pieces)
    assert len(reads) > 5  # read through a nested concatenation (XNNPACK takes 2 to 5 inputs)
    assert torch.equal(read_ranges(sources, reads).flatten(), reference.flatten()[order])


def _shufflenet(builder=torchvision.models.shufflenet_v2_x0_5) -> torch.nn.Module:
    torch.manual_seed(0)
    net = builder(num_classes=3).eval()
    for module in net.modules():  # batch norms that do something, so that a wrong permutation shows
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.2, 0.2)
    return net


# x1_0: halves of odd width (29 channels) and reads of 9 ranges, through a nested concatenation.
@pytest.mark.parametrize("builder", [torchvision.models.shufflenet_v2_x0_5, torchvision.models.shufflenet_v2_x1_0])
def test_the_planned_network_computes_the_same_and_leaves_the_original_alone(builder):
    net = _shufflenet(builder)
    before = {name: tensor.clone() for name, tensor in net.state_dict().items()}
    model = WithSoftmax(net).eval()
    planned, removed = plan_shuffles(model)
    assert removed == 16 and isinstance(planned.net, PlannedShuffleNetV2) and planned is not model
    assert set(planned.state_dict()) == set(model.state_dict())  # the same module names, for operator profiles
    assert not any(module.training for module in planned.modules())
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert float((planned(x) - model(x)).abs().max()) <= 1e-6
    assert all(torch.equal(net.state_dict()[name], tensor) for name, tensor in before.items())


class TwoNames(torch.nn.Module):
    def __init__(self, net):
        super().__init__()
        self.a = self.b = net

    def forward(self, x):
        return self.a(x) + self.b(x)


def test_a_network_held_under_two_names_is_planned_once_for_both():
    model = TwoNames(_shufflenet()).eval()
    planned, removed = plan_shuffles(model)
    assert removed == 16 and planned.a is planned.b and isinstance(planned.a, PlannedShuffleNetV2)
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert float((planned(x) - model(x)).abs().max()) <= 1e-5


def test_its_program_has_no_transpose_and_no_rank_5_tensor():
    planned, _ = plan_shuffles(_shufflenet())
    graph = torch.export.export(planned, (torch.zeros(1, 3, 96, 96),)).graph_module.graph
    calls = [node for node in graph.nodes if node.op == "call_function"]
    assert not [node for node in calls if node.target in (aten.transpose.int, aten.permute.default)]
    assert max(node.meta["val"].dim() for node in calls if isinstance(node.meta.get("val"), torch.Tensor)) <= 4
    assert sum(node.target is aten.slice.Tensor for node in calls) > 0


def test_a_network_without_torchvisions_own_shufflenet_is_returned_as_it_is():
    from torchvision.models.quantization import shufflenet_v2_x0_5

    for net in (torchvision.models.squeezenet1_1(num_classes=3), shufflenet_v2_x0_5(num_classes=3)):
        assert plan_shuffles(net) == (net, 0)  # the quantizable subclass computes around its blocks
