"""The cmx lowering's graph passes: each on a module with its pattern, then ShuffleNetV2 delegated whole."""

import pytest
import torch
from torchvision.models.shufflenetv2 import channel_shuffle

from cmx_bench.errors import UnknownNameError
from cmx_bench.export.formats import get_format
from cmx_bench.export.lowering import LoweringReport, to_pte
from cmx_bench.export.parity import FP32_MAX_DELTA
from cmx_bench.export.passes import rewrite_program
from cmx_bench.export.program_facts import pte_facts
from cmx_bench.export.service import ParityLimits, cache_key, export_artifact, export_to_folder
from cmx_bench.export.targets import host_target
from cmx_bench.nets.checkpoint import random_init_facts
from cmx_bench.nets.registry import build_model, get_card

aten = torch.ops.aten


def _rewrite(module: torch.nn.Module, example: torch.Tensor):
    """(sites per pass, the rewritten program's call targets, max |rewritten - eager| on a random input)."""
    module = module.eval()
    exported = torch.export.export(module, (example,))
    exported, sites = rewrite_program(exported)
    targets = [node.target for node in exported.graph_module.graph.nodes if node.op == "call_function"]
    x = torch.randn(example.shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, actual = module(x), exported.module()(x)
    difference = max(float((e - a).abs().max()) for e, a in zip(_flat(expected), _flat(actual)))
    return sites, targets, difference


def _flat(outputs):
    return outputs if isinstance(outputs, (tuple, list)) else [outputs]


class Splits(torch.nn.Module):
    def forward(self, x):
        a, b = x.chunk(2, dim=1)  # 6 channels: 3 + 3
        c, d = x.split(4, dim=1)  # a short last piece: 4 + 2
        e, f, g = torch.split(x, [1, 2, 1], dim=-1)  # explicit sizes, a negative dim
        return a * 2, b + c[:, :3], d, e, f.sum(-1, keepdim=True) + g


class Means(torch.nn.Module):
    def forward(self, x):
        # Two global means XNNPACK rejects (keepdim=False), one it takes as is, one over channels left alone.
        return x.mean([2, 3]), x.mean([-1, -2]), x.mean([2, 3], keepdim=True), x.mean(1)


class ShuffleBlocks(torch.nn.Module):
    """torchvision's InvertedResidual forms: a stride-1 block (chunk, branch, cat, shuffle) and a two-branch one."""

    def __init__(self):
        super().__init__()
        self.branch = torch.nn.Conv2d(4, 4, 1)
        self.left, self.right = torch.nn.Conv2d(8, 8, 3, padding=1), torch.nn.Conv2d(8, 8, 1)

    def forward(self, x):
        x1, x2 = x.chunk(2, dim=1)
        x = channel_shuffle(torch.cat((x1, self.branch(x2)), dim=1), 2)
        x = channel_shuffle(torch.cat((self.left(x), self.right(x)), dim=1), 2)
        unshuffled = torch.cat((x, x), dim=1)  # a concat with no shuffle after it stays as it is
        return unshuffled + 1


def test_splits_become_one_slice_per_piece_with_the_same_outputs():
    sites, targets, difference = _rewrite(Splits(), torch.zeros(1, 6, 5, 4))
    assert sites["split_to_slices"] == 3
    assert not {aten.chunk.default, aten.split.Tensor, aten.split_with_sizes.default} & set(targets)
    assert targets.count(aten.slice.Tensor) >= 7  # the 7 pieces (c[:, :3] is a slice of its own)
    assert difference <= 1e-6


def test_global_means_keep_their_dims_then_drop_them_by_a_view():
    sites, targets, difference = _rewrite(Means(), torch.zeros(2, 3, 5, 4))
    assert sites["mean_keepdim"] == 2
    assert targets.count(aten.mean.dim) == 4 and targets.count(aten.view.default) == 2
    assert difference <= 1e-6


def test_concat_then_channel_shuffle_becomes_one_interleaving_concat():
    torch.manual_seed(0)
    sites, targets, difference = _rewrite(ShuffleBlocks(), torch.zeros(1, 8, 6, 6))
    assert sites == {"split_to_slices": 1, "mean_keepdim": 0, "concat_shuffle": 2, "split_pointwise_over_concat": 0,
                     "pad_to_gemm_width": 0, "im2col_convolutions": 0, "fold_slices": 0}
    assert aten.transpose.int not in targets and aten.contiguous.default not in targets
    assert targets.count(aten.cat.default) == 3  # two interleaving concats on a new axis, one left alone
    assert difference <= 1e-6


def test_a_shuffle_of_groups_that_are_not_the_concat_inputs_is_left_alone():
    class ThreeGroups(torch.nn.Module):
        def forward(self, x):
            return channel_shuffle(torch.cat((x, x), dim=1), 3)  # 6 channels in 3 groups from 2 inputs

    sites, targets, difference = _rewrite(ThreeGroups(), torch.zeros(1, 3, 4, 4))
    assert sites["concat_shuffle"] == 0 and aten.transpose.int in targets and difference == 0


class Fires(torch.nn.Module):
    """SqueezeNet's three forms: a Fire's concatenation read by the next squeeze convolution directly, through a
    max pool, and through dropout (the classifier); then a concatenation a 3x3 convolution reads, left alone."""

    def __init__(self):
        super().__init__()
        self.expand1, self.expand3 = torch.nn.Conv2d(4, 6, 1), torch.nn.Conv2d(4, 6, 3, padding=1)
        self.squeeze = torch.nn.ModuleList(torch.nn.Conv2d(12, 4, 1) for _ in range(3))
        self.wide = torch.nn.Conv2d(8, 3, 3, padding=1)
        self.pool, self.dropout = torch.nn.MaxPool2d(3, 2, ceil_mode=True), torch.nn.Dropout(0.5)

    def fire(self, x):
        return torch.cat([torch.relu(self.expand1(x)), torch.relu(self.expand3(x))], 1)

    def forward(self, x):
        x = torch.relu(self.squeeze[0](self.fire(x)))
        x = torch.relu(self.squeeze[1](self.pool(self.fire(x))))
        x = self.squeeze[2](self.dropout(self.fire(x)))
        return self.wide(torch.cat([x, x], 1))


def test_a_pointwise_convolution_over_a_concat_becomes_one_per_input_summed():
    torch.manual_seed(0)
    sites, targets, difference = _rewrite(Fires(), torch.zeros(1, 4, 9, 9))
    assert sites["split_pointwise_over_concat"] == 3
    assert targets.count(aten.cat.default) == 1  # the 3x3 convolution's, left alone
    assert targets.count(aten.conv2d.default) == 3 * 2 + 3 * 2 + 1  # 2 expands and 2 halves of a squeeze per Fire
    assert targets.count(aten.max_pool2d.default) == 2  # the pool moved onto each concatenated input
    assert difference <= 1e-5


def test_a_concat_read_through_training_dropout_is_left_alone():
    class TrainingDropout(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.squeeze = torch.nn.Conv2d(4, 2, 1)

        def forward(self, x):
            # Its mask is drawn over the concatenated tensor: per input it would be other random draws.
            return self.squeeze(torch.nn.functional.dropout(torch.cat([x, x], 1), 0.5, training=True))

    exported, sites = rewrite_program(torch.export.export(TrainingDropout(), (torch.zeros(1, 2, 4, 4),)))
    assert sites["split_pointwise_over_concat"] == 0


def _randomised_norms(module: torch.nn.Module) -> torch.nn.Module:
    """Batch norms with other statistics and affine terms than their initial ones, so that padding them shows."""
    generator = torch.Generator().manual_seed(3)
    for norm in module.modules():
        if isinstance(norm, torch.nn.BatchNorm2d):
            for tensor, low, high in ((norm.weight, 0.5, 1.5), (norm.bias, -0.5, 0.5), (norm.running_mean, -0.5, 0.5),
                                      (norm.running_var, 0.5, 2.0)):
                tensor.data.uniform_(low, high, generator=generator)
    return module


class PointwiseWidths(torch.nn.Module):
    """Pointwise convolutions of 24 channels (padded to 32) with their batch norms and activations, a depthwise
    convolution between them, and ones of 16, 12 (a remainder that runs fast) and 20 channels (20 -> 32 would add
    more than a third)."""

    def __init__(self):
        super().__init__()
        norm = torch.nn.BatchNorm2d
        self.expand = torch.nn.Sequential(torch.nn.Conv2d(4, 24, 1, bias=False), norm(24), torch.nn.ReLU(inplace=True))
        self.depthwise = torch.nn.Sequential(torch.nn.Conv2d(24, 24, 3, padding=1, groups=24), norm(24))
        self.project = torch.nn.Sequential(torch.nn.Conv2d(24, 24, 1), norm(24), torch.nn.ReLU6())
        self.wide = torch.nn.Conv2d(24, 16, 1)
        self.fast, self.other = torch.nn.Conv2d(4, 12, 1), torch.nn.Conv2d(4, 20, 1)

    def forward(self, x):
        y = self.project(self.depthwise(self.expand(x)))
        return self.wide(y), y + 1, self.fast(x), self.other(x)


def test_pointwise_outputs_are_padded_to_the_gemm_width_and_their_readers_take_the_padding():
    torch.manual_seed(0)
    module = _randomised_norms(PointwiseWidths()).eval()
    exported, sites = rewrite_program(torch.export.export(module, (torch.zeros(1, 4, 6, 6),)))
    assert sites["pad_to_gemm_width"] == 2  # expand and project (`wide` has 16 channels already)
    nodes = [node for node in exported.graph_module.graph.nodes if node.op == "call_function"]
    weights = [tuple(node.args[1].meta["val"].shape) for node in nodes if node.target is aten.conv2d.default]
    # project reads expand's padded channels through the depthwise convolution; y has two readers, so both read
    # one slice back to its 24 real channels.
    assert weights == [(32, 4, 1, 1), (32, 1, 3, 3), (32, 32, 1, 1), (16, 24, 1, 1), (12, 4, 1, 1), (20, 4, 1, 1)]
    slices = [node for node in nodes if node.target is aten.slice.Tensor]
    assert [node.args[1:] for node in slices] == [(1, 0, 24)]
    x = torch.randn(1, 4, 6, 6, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        for expected, actual in zip(module(x), exported.module()(x)):
            assert expected.shape == actual.shape and float((expected - actual).abs().max()) <= 1e-5


def test_padding_stops_where_another_reader_needs_the_real_channels():
    class TwoReaders(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.expand, self.left, self.right = (torch.nn.Conv2d(4, 24, 1), torch.nn.Conv2d(24, 16, 1),
                                                  torch.nn.Conv2d(24, 16, 1))

        def forward(self, x):
            y = self.expand(x)
            return self.left(y) + self.right(y)

    sites, targets, difference = _rewrite(TwoReaders(), torch.zeros(1, 4, 5, 5))
    assert sites["pad_to_gemm_width"] == 1 and targets.count(aten.slice.Tensor) == 1 and difference <= 1e-5


def test_a_slice_of_a_slice_becomes_one_slice():
    class Slices(torch.nn.Module):
        def forward(self, x):
            return x[:, 2:10][:, 1:5], x[:, 4:][:, :-1], x[:, 1:7][..., 2:4]  # the last: another axis, kept

    sites, targets, difference = _rewrite(Slices(), torch.zeros(1, 12, 4, 6))
    assert sites["fold_slices"] == 2 and targets.count(aten.slice.Tensor) == 4 and difference == 0


def test_convolutions_with_larger_kernels_become_im2col_and_one_pointwise_convolution():
    class Kernels(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.square = torch.nn.Conv2d(16, 64, 3, padding=1)  # SqueezeNet's expand3x3
            self.wide = torch.nn.Conv2d(64, 64, (1, 3), padding=(0, 1), bias=False)
            self.valid = torch.nn.Conv2d(64, 80, 3)  # no padding: the map shrinks

        def forward(self, x):
            return self.valid(torch.relu(self.wide(self.square(x))))

    module = Kernels().eval()
    exported = torch.export.export(module, (torch.zeros(1, 16, 9, 7),))
    exported, sites = rewrite_program(exported)
    assert sites["im2col_convolutions"] == 3
    nodes = [node for node in exported.graph_module.graph.nodes if node.op == "call_function"]
    assert [tuple(node.args[1].meta["val"].shape) for node in nodes if node.target is aten.conv2d.default] == [
        (64, 144, 1, 1), (64, 192, 1, 1), (80, 576, 1, 1)]
    assert [len(node.args[0]) for node in nodes if node.target is aten.cat.default] == [9, 3, 9]
    assert sum(node.target is aten.constant_pad_nd.default for node in nodes) == 2
    x = torch.randn(1, 16, 9, 7, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected, actual = module(x), exported.module()(x)
    assert expected.shape == actual.shape and float((expected - actual).abs().max()) <= 1e-5


def test_im2col_leaves_alone_what_it_would_slow_down_or_xnnpack_could_not_slice():
    class Left(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.narrow = torch.nn.Conv2d(128, 32, 3, padding=1)  # DenseNet's: the copies cost what the GEMM saves
            self.strided = torch.nn.Conv2d(32, 64, 3, stride=2, padding=1)  # XNNPACK slices with step 1 only
            self.dilated = torch.nn.Conv2d(64, 64, 3, padding=2, dilation=2)
            self.depthwise = torch.nn.Conv2d(64, 64, 3, padding=1, groups=64)

        def forward(self, x):
            return self.depthwise(self.dilated(self.strided(self.narrow(x))))

    sites, targets, difference = _rewrite(Left(), torch.zeros(1, 128, 8, 8))
    assert sites["im2col_convolutions"] == 0 and aten.cat.default not in targets and difference == 0


def test_im2col_leaves_a_map_of_dynamic_size_alone():
    module = torch.nn.Conv2d(4, 64, 3, padding=1).eval()
    height = torch.export.Dim("height", min=4, max=32)
    exported = torch.export.export(module, (torch.randn(2, 4, 7, 9),), dynamic_shapes={"input": {2: height}})
    exported, sites = rewrite_program(exported)
    assert sites["im2col_convolutions"] == 0
    x = torch.randn(2, 4, 12, 9, generator=torch.Generator().manual_seed(5))  # another height than the example's
    with torch.no_grad():
        assert float((module(x) - exported.module()(x)).abs().max()) <= 1e-5


def test_a_pass_that_does_not_exist_cannot_be_skipped():
    exported = torch.export.export(torch.nn.ReLU(), (torch.zeros(1, 2),))
    with pytest.raises(ValueError, match="no such pass: pad_to_gemm"):
        rewrite_program(exported, skip=("pad_to_gemm",))


@pytest.mark.parametrize("fmt", ["pte", "pte-int8"])
def test_squeezenet_lowers_without_its_concat_copies_at_parity(tmp_path, fmt):
    card = get_card("squeezenet1_1")
    torch.manual_seed(0)
    calibration = [torch.rand(card.input_shape, generator=torch.Generator().manual_seed(i)) for i in range(3)]
    manifests = {lowering: export_artifact(card, build_model(card), random_init_facts(0), get_format(fmt),
                                           tmp_path / f"{lowering}.pte", calibration=calibration, lowering=lowering,
                                           target="x86-64-avx2")
                 for lowering in ("cmx", "stock")}
    facts = pte_facts(tmp_path / "cmx.pte")
    assert manifests["cmx"]["lowering"]["passes"]["split_pointwise_over_concat"] == 8  # every Fire's concat
    # every Fire's expand3x3 in fp32 for AVX2 (skipped in int8); not conv1, whose stride XNNPACK cannot slice
    assert manifests["cmx"]["lowering"]["passes"]["im2col_convolutions"] == (8 if fmt == "pte" else 0)
    assert manifests["cmx"]["lowering"]["target"] == "x86-64-avx2" and manifests["stock"]["lowering"]["target"] is None
    assert facts["delegate_calls"] == 1 and facts["portable_operators"] == []
    # fp32: equal up to rounding; int8: each partial convolution is quantised on its own, within int8's limits
    parity, limits = manifests["cmx"]["parity"], ParityLimits()
    assert parity["passed"] and parity["argmax_agreement"] >= (1.0 if fmt == "pte" else limits.int8_min_agreement)
    assert parity["max_abs_delta_prob"] <= (FP32_MAX_DELTA if fmt == "pte" else limits.int8_max_delta)
    assert manifests["cmx"]["complexity"] == manifests["stock"]["complexity"]  # counted on the network itself


def test_an_unknown_lowering_is_a_one_line_error():
    with pytest.raises(UnknownNameError, match="--lowering stock or cmx"):
        to_pte(Means(), torch.zeros(1, 3, 4, 4), lowering="fast")


@pytest.mark.parametrize("lowering", ["cmx", "stock"])
def test_input_in_place_can_be_chosen_against_the_lowerings_default(tmp_path, lowering):
    for in_place in (True, False):
        path = tmp_path / f"{lowering}-{in_place}.pte"
        path.write_bytes(to_pte(Means(), torch.zeros(1, 3, 4, 4), lowering=lowering, input_in_place=in_place))
        assert pte_facts(path)["planned_inputs"] == (0 if in_place else 1)


def test_the_lowering_is_part_of_a_pte_cache_key_only():
    card, weights = get_card("shufflenet_v2_x1_0"), random_init_facts(0)
    pte, ptl = get_format("pte"), get_format("ptl")
    assert cache_key(card, weights, pte, "generated", "cmx") != cache_key(card, weights, pte, "generated", "stock")
    assert cache_key(card, weights, ptl, "generated", "cmx") == cache_key(card, weights, ptl, "generated", "stock")


def test_the_target_is_part_of_a_cmx_pte_cache_key_only():
    card, weights = get_card("shufflenet_v2_x1_0"), random_init_facts(0)
    pte, ptl = get_format("pte"), get_format("ptl")

    def key(fmt, lowering, target):
        return cache_key(card, weights, fmt, "generated", lowering, target)

    assert key(pte, "cmx", "arm") != key(pte, "cmx", "x86-64-avx2") != key(pte, "cmx", "x86-64-avx512")
    assert key(pte, "cmx", "host") == key(pte, "cmx", host_target())
    assert key(pte, "stock", "arm") == key(pte, "stock", "x86-64-avx512")
    assert key(ptl, "cmx", "arm") == key(ptl, "cmx", "x86-64-avx2")


@pytest.mark.parametrize("target", ["arm", "x86-64-avx512"])
def test_the_passes_measured_on_avx2_only_are_skipped_for_other_targets(tmp_path, target):
    card = get_card("squeezenet1_1")
    torch.manual_seed(0)
    [(path, manifest)] = export_to_folder(card.name, ["pte"], tmp_path, target=target)
    block = manifest["lowering"]
    assert block["target"] == target and block["passes"]["im2col_convolutions"] == 0
    assert block["passes"]["pad_to_gemm_width"] == 0 and block["passes"]["split_pointwise_over_concat"] == 8
    assert block["partitions"] == 1 and manifest["parity"]["passed"]


@pytest.fixture(scope="module")
def shufflenet(tmp_path_factory):
    """ShuffleNetV2 (seed 0) exported by the service, with its parity check, in both lowerings, fp32 and int8, for
    AVX2 (where every pass runs); int8 calibrated on 3 random tensors. {(lowering, format): (path, manifest)}."""
    card = get_card("shufflenet_v2_x1_0")
    torch.manual_seed(0)
    model = build_model(card)
    calibration = [torch.rand(card.input_shape, generator=torch.Generator().manual_seed(i)) for i in range(3)]
    out, exported = tmp_path_factory.mktemp("shufflenet"), {}
    for lowering in ("cmx", "stock"):
        for name in ("pte", "pte-int8"):
            path = out / f"{lowering}-{name}.pte"
            exported[lowering, name] = path, export_artifact(card, model, random_init_facts(0), get_format(name),
                                                             path, calibration=calibration, lowering=lowering,
                                                             target="x86-64-avx2")
    return exported


@pytest.mark.parametrize("fmt", ["pte", "pte-int8"])
def test_cmx_lowers_shufflenet_to_one_partition_without_portable_operators(shufflenet, fmt):
    path, manifest = shufflenet["cmx", fmt]
    facts = pte_facts(path)  # from the program itself
    assert facts["delegate_calls"] == 1 and facts["portable_operators"] == []
    # fp32: the shuffles planned away before export (nothing left to split or interleave); int8: kept, interleaved.
    planned = {"plan_shuffles": 16, "split_to_slices": 0, "concat_shuffle": 0} if fmt == "pte" else \
        {"plan_shuffles": 0, "split_to_slices": 13, "concat_shuffle": 16}
    # fp32: the 26 pointwise convolutions of 116 and 232 channels padded to 128 and 240, and the plan's reads of their
    # padded outputs each one slice.
    padded = {"pad_to_gemm_width": 26, "fold_slices": 56} if fmt == "pte" else \
        {"pad_to_gemm_width": 0, "fold_slices": 0}
    # AVX2 runs every fp32 knob (export/choices.py); int8 plans nothing by default
    chosen = ["plan_shuffles", "pad_to_gemm_width", "im2col_convolutions"] if fmt == "pte" else []
    assert manifest["lowering"] == {
        "name": "cmx", "target": "x86-64-avx2", "choices": chosen,
        "passes": {**planned, **padded, "mean_keepdim": 1, "split_pointwise_over_concat": 0,
                   "im2col_convolutions": 0},  # its 3x3 convolutions are depthwise or strided
        "partitions": 1, "input_in_place": True, "portable_operators": [], "not_delegated": {}}
    # The export's own parity check against the eager network, at its usual limits.
    parity, limits = manifest["parity"], ParityLimits()
    assert parity["passed"] and parity["argmax_agreement"] >= (1.0 if fmt == "pte" else limits.int8_min_agreement)
    assert parity["max_abs_delta_prob"] <= (FP32_MAX_DELTA if fmt == "pte" else limits.int8_max_delta)


@pytest.mark.parametrize("fmt", ["pte", "pte-int8"])
def test_stock_lowering_leaves_splits_and_the_mean_to_portable_kernels_and_says_why(shufflenet, fmt):
    path, manifest = shufflenet["stock", fmt]
    facts = pte_facts(path)
    assert facts["delegate_calls"] > 1
    assert {"aten::split_with_sizes_copy.out", "aten::mean.out"} <= set(facts["portable_operators"])
    block = manifest["lowering"]
    assert block["name"] == "stock" and block["passes"] == {} and block["partitions"] == facts["delegate_calls"]
    assert facts["planned_inputs"] == 1 and block["input_in_place"] is False  # ExecuTorch's default memory plan
    assert block["not_delegated"]["aten::mean.out"] == "mean.dim only supports keepdim=True"
    assert "no config for split_with_sizes_copy" in block["not_delegated"]["aten::split_with_sizes_copy.out"]


@pytest.mark.parametrize("fmt", ["pte", "pte-int8"])
def test_a_cmx_program_reads_its_input_in_place_and_a_stock_one_copies_it(shufflenet, fmt):
    from executorch.runtime import Runtime

    def planned(lowering):
        path = shufflenet[lowering, fmt][0]
        meta = Runtime.get().load_program(str(path)).metadata("forward").input_tensor_meta(0)
        return pte_facts(path)["planned_inputs"], meta.is_memory_planned()

    # from the flatbuffer and from the runtime's own method meta, which decides copy or share in set_input
    assert planned("cmx") == (0, False) and planned("stock") == (1, True)
    # XNNPACK keeps the activations in its own workspace: without the input's 602 KB, the plan holds only the output
    assert pte_facts(shufflenet["cmx", fmt][0])["planned_activation_bytes"] < 3 * 224 * 224 * 4


def test_cmx_and_stock_programs_agree(shufflenet):
    from executorch.extension.pybindings import portable_lib

    x = torch.rand(1, 3, 224, 224, generator=torch.Generator().manual_seed(5))
    cmx, stock = (portable_lib._load_for_executorch(str(shufflenet[name, "pte"][0])).forward([x])[0]
                  for name in ("cmx", "stock"))
    assert float((cmx - stock).abs().max()) <= FP32_MAX_DELTA


def test_a_ptl_export_records_no_lowering(tmp_path):
    [(_, manifest)] = export_to_folder("squeezenet1_1", ["ptl"], tmp_path, lowering="stock")
    assert manifest["lowering"] is None


def test_the_report_adds_up_the_sites_of_both_exports_of_an_int8_program():
    report = LoweringReport()
    report.add_passes({"split_to_slices": 13, "concat_shuffle": 16})
    report.add_passes({"split_to_slices": 0, "concat_shuffle": 0})
    assert report.passes == {"split_to_slices": 13, "concat_shuffle": 16}


def test_options_passed_by_name_are_kept_and_slices_by_name_are_not_folded():
    class Chain(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.expand, self.depthwise = torch.nn.Conv2d(4, 24, 1), torch.nn.Conv2d(24, 24, 3, padding=1, groups=24)

        def forward(self, x):
            return self.depthwise(self.expand(x))[:, 2:10]

    module = Chain().eval()
    exported = torch.export.export(module, (torch.zeros(1, 4, 6, 6),))
    for node in exported.graph_module.graph.nodes:  # as a hand-written graph may pass them
        if node.target is aten.conv2d.default and node.args[6:] == (24,):
            node.args, node.kwargs = node.args[:3], dict(zip(("stride", "padding", "dilation", "groups"),
                                                             node.args[3:]))
        elif node.target is aten.slice.Tensor:
            node.args, node.kwargs = node.args[:2], {"start": 2, "end": 10}
    exported.graph_module.recompile()
    exported, sites = rewrite_program(exported)
    assert sites["pad_to_gemm_width"] == 1 and sites["fold_slices"] == 0
    x = torch.randn(1, 4, 6, 6, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        assert float((module(x) - exported.module()(x)).abs().max()) <= 1e-5


def test_shufflenet_padded_computes_what_it_did_with_trained_like_norms():
    import torchvision

    from cmx_bench.export.shuffle_plan import plan_shuffles

    torch.manual_seed(0)
    network = _randomised_norms(torchvision.models.shufflenet_v2_x0_5()).eval()
    for parameter in network.parameters():
        parameter.requires_grad_(False)
    planned, _ = plan_shuffles(network)
    exported, sites = rewrite_program(torch.export.export(planned, (torch.zeros(1, 3, 96, 96),)))
    assert sites["pad_to_gemm_width"] > 0 and sites["fold_slices"] > 0
    x = torch.randn(1, 3, 96, 96, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected, actual = network(x), exported.module()(x)
    assert float((expected - actual).abs().max()) <= 1e-4 * float(expected.abs().max())
