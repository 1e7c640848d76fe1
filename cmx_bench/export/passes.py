"""Graph passes that rewrite an exported program into equivalent forms that XNNPACK delegates whole and runs faster."""

# They run on the program torch.export gives: before pt2e quantisation, so that the quantiser annotates the
# rewritten graph, and before `to_edge_transform_and_lower`. Each returns how many sites it rewrote.

from __future__ import annotations

import operator
from contextlib import nullcontext
from typing import Callable, Collection

import torch
from torch._guards import detect_fake_mode
from torch.fx import Graph, Node

aten = torch.ops.aten

# What a new node inherits from the node it replaces: module attribution (measure/module_map.py reads
# nn_module_stack through the ETRecord) and the source location in error messages. Not source_fn_stack: it names
# the torch function a node came from, which the new view or slice is not.
_INHERITED_META = ("nn_module_stack", "stack_trace")
_SPLITS = (aten.split.Tensor, aten.split_with_sizes.default, aten.chunk.default)
_VIEWS = (aten.view.default, aten.reshape.default)
_COPIES = (aten.contiguous.default, aten.clone.default)


def _add_node(graph: Graph, target, args: tuple, origin: Node, kwargs: dict | None = None) -> Node:
    """A call_function node at the graph's insertion point, with `origin`'s provenance and the fake value its
    arguments give (prepare_pt2e and the edge verifier read meta['val'])."""
    kwargs = kwargs or {}
    node = graph.call_function(target, args, kwargs)
    node.meta.update({key: origin.meta[key] for key in _INHERITED_META if key in origin.meta})
    values, named = torch.fx.node.map_arg((args, kwargs), lambda arg: arg.meta["val"])
    # Without grad, as torch.export computes its values: a value derived from a parameter would otherwise not be a
    # graph leaf, and ExecuTorch deep-copies the program.
    with detect_fake_mode(list(torch.utils._pytree.tree_leaves((values, named)))) or nullcontext(), torch.no_grad():
        node.meta["val"] = target(*values, **named)
    return node


def _calls(graph: Graph, targets) -> list[Node]:
    return [node for node in graph.nodes if node.op == "call_function" and node.target in targets]


def _rank(node: Node) -> int:
    return node.meta["val"].dim()


def _only_user(node: Node, targets) -> Node | None:
    users = list(node.users)
    return users[0] if len(users) == 1 and users[0].op == "call_function" and users[0].target in targets else None


def _erase(graph: Graph, nodes: list[Node]) -> None:
    """Erase nodes the rewrite left without users, consumers first (DCE would also drop in-place ops' results)."""
    for node in reversed(nodes):
        graph.erase_node(node)


def split_to_slices(graph: Graph) -> int:
    """`split` / `chunk` / `split_with_sizes` whose pieces are read by getitem -> one `slice` per piece: XNNPACK
    (executorch 1.5.1) has no partitioner config for split_with_sizes_copy, so each split is a portable operator
    that cuts the program into two partitions; it delegates static slices."""
    sites = 0
    for split in _calls(graph, _SPLITS):
        pieces = list(split.users)
        if not pieces or any(piece.target is not operator.getitem for piece in pieces):
            continue
        source = split.args[0]
        dim = split.args[2] if len(split.args) > 2 else split.kwargs.get("dim", 0)
        dim %= _rank(source)
        # The piece sizes torch computed for this split (chunk rounds up, split leaves a short last piece).
        sizes = [int(value.shape[dim]) for value in split.meta["val"]]
        starts = [sum(sizes[:index]) for index in range(len(sizes))]
        for piece in pieces:
            index = piece.args[1]
            with graph.inserting_before(piece):
                sliced = _add_node(graph, aten.slice.Tensor, (source, dim, starts[index], starts[index] + sizes[index]),
                                   split)
            piece.replace_all_uses_with(sliced)
            graph.erase_node(piece)
        graph.erase_node(split)
        sites += 1
    return sites


def mean_keepdim(graph: Graph) -> int:
    """A global mean over H, W of an NCHW tensor with keepdim=False -> keepdim=True, then a view that drops the two
    axes: XNNPACK's mean.dim config only takes keepdim=True, so the other form runs as a portable operator."""
    sites = 0
    for mean in _calls(graph, (aten.mean.dim,)):
        source, dims = mean.args[0], mean.args[1]
        keepdim = mean.args[2] if len(mean.args) > 2 else mean.kwargs.get("keepdim", False)
        if keepdim or mean.kwargs.get("dtype") is not None or _rank(source) != 4 \
                or sorted(d % 4 for d in dims) != [2, 3]:
            continue
        with graph.inserting_before(mean):
            kept = _add_node(graph, aten.mean.dim, (source, list(dims), True), mean)
            flat = _add_node(graph, aten.view.default, (kept, list(mean.meta["val"].shape)), mean)
        mean.replace_all_uses_with(flat)
        graph.erase_node(mean)
        sites += 1
    return sites


def _shuffle_after(cat: Node) -> list[Node] | None:
    """The nodes of a channel shuffle that reads only `cat` (view to (N, g, C/g, H, W), transpose(1, 2), an optional
    contiguous, view back to (N, C, H, W)) with one group per concatenated input; None when it is not that."""
    inputs, dim = cat.args[0], cat.args[1] if len(cat.args) > 1 else cat.kwargs.get("dim", 0)
    if _rank(cat) != 4 or dim % 4 != 1:
        return None
    split_view = _only_user(cat, _VIEWS)
    transpose = split_view and _only_user(split_view, (aten.transpose.int,))
    if transpose is None or sorted(d % 5 for d in transpose.args[1:3]) != [1, 2]:
        return None
    chain = [split_view, transpose]
    copy = _only_user(transpose, _COPIES)
    chain += [copy] if copy is not None else []
    merge_view = _only_user(chain[-1], _VIEWS)
    if merge_view is None:
        return None
    n, channels, height, width = cat.meta["val"].shape
    groups = len(inputs)
    group_shape = [n, groups, channels // groups, height, width]
    same_groups = all(int(i.meta["val"].shape[1]) * groups == channels for i in inputs)
    if list(split_view.meta["val"].shape) != group_shape or not same_groups \
            or list(merge_view.meta["val"].shape) != list(cat.meta["val"].shape):
        return None
    return chain + [merge_view]


def _with_inner_axis(tensor: Node) -> list[int]:
    n, channels, height, width = tensor.meta["val"].shape
    return [int(n), int(channels), 1, int(height), int(width)]


def concat_shuffle(graph: Graph) -> int:
    """Channel concatenation then channel shuffle (torchvision's channel_shuffle after `cat((x1, branch2(x2)), 1)`)
    -> the inputs concatenated on a new axis after the channels and viewed back to (N, C, H, W): out[:, k*g + j] is
    input j's channel k either way, but this form writes each input once instead of a concat copy, a transpose and
    its contiguous copy (the transpose is what XNNPACK runs as a layout operator)."""
    sites = 0
    for cat in _calls(graph, (aten.cat.default,)):
        chain = _shuffle_after(cat)
        if chain is None:
            continue
        merge_view = chain[-1]
        with graph.inserting_before(merge_view):
            # A view, not unsqueeze: XNNPACK has no unsqueeze_copy config, and a static reshape it delegates.
            inner = [_add_node(graph, aten.view.default, (tensor, _with_inner_axis(tensor)), cat)
                     for tensor in cat.args[0]]
            interleaved = _add_node(graph, aten.cat.default, (inner, 2), cat)
            merged = _add_node(graph, aten.view.default, (interleaved, list(merge_view.meta["val"].shape)), cat)
        merge_view.replace_all_uses_with(merged)
        _erase(graph, [cat, *chain])
        sites += 1
    return sites


def _pointwise_convolution(node: Node | None) -> bool:
    """aten.conv2d with a 1x1 kernel, one group, no padding and a parameter for its weight."""
    if node is None or node.target is not aten.conv2d.default:
        return False
    weight = node.args[1]
    padding = node.args[4] if len(node.args) > 4 else node.kwargs.get("padding", 0)
    groups = node.args[6] if len(node.args) > 6 else node.kwargs.get("groups", 1)
    return (weight.op == "placeholder" and tuple(weight.meta["val"].shape[2:]) == (1, 1) and groups == 1
            and all(p == 0 for p in (padding if isinstance(padding, (list, tuple)) else [padding])))


# Operators that act on each channel alone (dropout in eval is one), so that they commute with a channel concat.
_PER_CHANNEL = (aten.max_pool2d.default, aten.dropout.default)


def _per_channel_user(node: Node) -> Node | None:
    user = _only_user(node, _PER_CHANNEL)
    if user is not None and user.target is aten.dropout.default:
        train = user.args[2] if len(user.args) > 2 else user.kwargs.get("train", True)
        return None if train else user  # dropout in training draws its mask over the whole tensor
    return user


def split_pointwise_over_concat(graph: Graph) -> int:
    """A channel concatenation read, through per-channel operators only, by one 1x1 convolution -> one convolution
    per concatenated input on its slice of the weight (the bias on the first), summed: conv(cat(a, b)) = conv_a(a)
    + conv_b(b). SqueezeNet's Fire modules end in such a concatenation, which XNNPACK runs as one copy per input of
    the full feature map; the sum it replaces it with is over the convolution's far fewer output channels. The
    weight slices are constants: rewrite_program folds them into parameters, since XNNPACK takes a convolution's
    weight only as one."""
    sites = 0
    for cat in _calls(graph, (aten.cat.default,)):
        inputs, dim = cat.args[0], cat.args[1] if len(cat.args) > 1 else cat.kwargs.get("dim", 0)
        # Not a concatenation of slices (shuffle_plan's reads, or split_to_slices' pieces): split, the convolution
        # would run once per piece and, in int8, requantise each partial sum, where the concatenation copies only
        # what the slices hold.
        if _rank(cat) != 4 or dim % 4 != 1 or len(inputs) < 2 \
                or any(source.target is aten.slice.Tensor for source in inputs):
            continue
        chain, node = [], cat
        while (nxt := _per_channel_user(node)) is not None:
            chain.append(nxt)
            node = nxt
        conv = _only_user(node, (aten.conv2d.default,))
        if not _pointwise_convolution(conv) or conv.args[0] is not node:
            continue
        weight, bias = conv.args[1], conv.args[2] if len(conv.args) > 2 else conv.kwargs.get("bias")
        rest, options = tuple(conv.args[3:]), {k: v for k, v in conv.kwargs.items() if k != "bias"}
        with graph.inserting_before(conv):
            total, start = None, 0
            for index, source in enumerate(inputs):
                for op in chain:
                    source = _add_node(graph, op.target, (source, *op.args[1:]), op, dict(op.kwargs))
                width = int(source.meta["val"].shape[1])
                piece = _add_node(graph, aten.slice.Tensor, (weight, 1, start, start + width), conv)
                part = _add_node(graph, aten.conv2d.default, (source, piece, bias if index == 0 else None, *rest),
                                 conv, options)
                total = part if total is None else _add_node(graph, aten.add.Tensor, (total, part), conv)
                start += width
        conv.replace_all_uses_with(total)
        _erase(graph, [cat, *chain, conv])
        sites += 1
    return sites


# XNNPACK's f32 GEMM kernels on x86 (AVX2, AVX-512) take output channels 16 at a time. On an AMD EPYC (Zen 3, AVX2)
# host, a 1x1 convolution whose output channels leave 4 or 8 over a multiple of 16 (ShuffleNetV2's 116 and 232,
# MobileNetV2's 24) ran at half the MAC/s of the widths around it, with one thread or two, while other remainders
# (12, or 10 as in ShuffleNetV2's 58) ran at full speed, and padding 58 to 64 measured slower
# (benchmarks/gemm_width.py scans the widths and times each padding against none). On an Intel Xeon with AVX-512,
# padding lost (choices.py says where it runs).
GEMM_TILE = 16
SLOW_REMAINDERS = (4, 8)
# Padding is worth it while the extra channels cost at most this share of the convolution's MACs.
MAX_PADDING = 1 / 3
# What may follow a padded convolution before the padding is dropped: each acts on every channel alone.
_ACTIVATIONS = (aten.relu.default, aten.relu_.default, aten.hardtanh.default, aten.hardtanh_.default)
# Padding values for batch_norm's weight, bias, running mean and running variance: a padded channel stays finite.
_NORM_PADDING = (1.0, 0.0, 0.0, 1.0)


def padded_width(channels: int) -> int | None:
    """The output channels a pointwise convolution of `channels` is padded to, or None when it is left alone."""
    padded = -(-channels // GEMM_TILE) * GEMM_TILE
    if channels % GEMM_TILE not in SLOW_REMAINDERS or padded > channels * (1 + MAX_PADDING):
        return None
    return padded


def _padded(graph: Graph, tensor: Node | None, extra: int, origin: Node, value: float = 0.0,
            axis: int = 0) -> Node | None:
    """`tensor` (a parameter or buffer) with `extra` more entries at the end of `axis`, filled with `value`: a
    constant, which rewrite_program folds into a new parameter."""
    if tensor is None:
        return None
    widths = [0, 0] * _rank(tensor)
    widths[2 * (_rank(tensor) - 1 - axis) + 1] = extra  # constant_pad_nd lists the last axis first
    return _add_node(graph, aten.constant_pad_nd.default, (tensor, widths, value), origin)


def _weight_bias_groups(conv: Node) -> tuple[Node, Node | None, int]:
    bias = conv.args[2] if len(conv.args) > 2 else conv.kwargs.get("bias")
    groups = conv.args[6] if len(conv.args) > 6 else conv.kwargs.get("groups", 1)
    return conv.args[1], bias, groups


def _depthwise_convolution(node: Node | None, source: Node, channels: int) -> bool:
    """aten.conv2d over `source`'s `channels` with one filter per channel and a parameter for its weight."""
    if node is None or node.target is not aten.conv2d.default or node.args[0] is not source:
        return False
    weight, _, groups = _weight_bias_groups(node)
    return weight.op == "placeholder" and groups == channels == int(node.meta["val"].shape[1])


# aten.conv2d's arguments after (input, weight, bias), with their defaults.
_CONV_OPTIONS = {"stride": [1, 1], "padding": [0, 0], "dilation": [1, 1], "groups": 1}


def _conv_options(conv: Node) -> list:
    """[stride, padding, dilation, groups] of an aten.conv2d, whether the graph passed each by position, by name or
    not at all."""
    return [conv.args[3 + index] if len(conv.args) > 3 + index else conv.kwargs.get(name, default)
            for index, (name, default) in enumerate(_CONV_OPTIONS.items())]


def _pad_convolution(graph: Graph, conv: Node, source: Node, extra_out: int, extra_in: int) -> Node:
    """A copy of `conv` reading `source`, with `extra_out` zero filters and `extra_in` zero input channels added
    (a depthwise convolution, whose groups follow its channels, takes extra_out only)."""
    weight, bias, groups = _weight_bias_groups(conv)
    rest = _conv_options(conv)  # every option positional
    if groups != 1:  # depthwise: one filter per channel
        rest[3] = groups + extra_out
    options = {k: v for k, v in conv.kwargs.items() if k != "bias" and k not in _CONV_OPTIONS}
    with graph.inserting_before(conv):
        weight = _padded(graph, weight, extra_out, conv)
        if extra_in:
            weight = _padded(graph, weight, extra_in, conv, axis=1)
        return _add_node(graph, aten.conv2d.default, (source, weight, _padded(graph, bias, extra_out, conv), *rest),
                         conv, options)


def _pad_per_channel_chain(graph: Graph, end: Node, padded: Node, extra: int) -> tuple[Node, Node, list[Node]]:
    """The eval batch norms and activations that read `end` one after another, each copied onto `padded`: returns
    (the last original node, its padded copy, the originals copied), the originals left to the caller."""
    originals = []
    while (op := _only_user(end, (aten.batch_norm.default, *_ACTIVATIONS))) is not None and op.args[0] is end:
        args = list(op.args)
        if op.target is aten.batch_norm.default:
            if args[5] if len(args) > 5 else op.kwargs.get("training", False):
                break
            with graph.inserting_before(op):
                args[1:5] = [_padded(graph, t, extra, op, value) for t, value in zip(args[1:5], _NORM_PADDING)]
        with graph.inserting_before(op):
            padded = _add_node(graph, op.target, (padded, *args[1:]), op, dict(op.kwargs))
        end = op
        originals.append(op)
    return end, padded, originals


def pad_to_gemm_width(graph: Graph) -> int:
    """A pointwise convolution whose output channels leave one of SLOW_REMAINDERS over a multiple of GEMM_TILE
    (within MAX_PADDING) -> the same convolution with zero filters added up to the multiple. Its eval batch norms
    and activations run on the padded channels, and so does a depthwise convolution after them; a pointwise
    convolution that then reads them takes the padded channels with zero weights (and may be padded in turn);
    anything else reads a slice back to the real channels. The padded filters give exact zeros, so the real
    channels' values are unchanged."""
    sites, erased = 0, set()
    for conv in _calls(graph, (aten.conv2d.default,)):
        source, extra_in = conv.args[0], 0  # extra_in: zero input channels the convolution now reads
        while conv not in erased and _pointwise_convolution(conv) and _rank(conv) == 4:
            channels = int(conv.meta["val"].shape[1])
            padded_channels = padded_width(channels)
            if padded_channels is None:
                if extra_in:  # a reader of padded channels whose own output needs none
                    conv.replace_all_uses_with(_pad_convolution(graph, conv, source, 0, extra_in))
                    erased.add(conv)
                    graph.erase_node(conv)
                break
            extra = padded_channels - channels
            end, padded, originals = _pad_per_channel_chain(
                graph, conv, _pad_convolution(graph, conv, source, extra, extra_in), extra)
            originals.insert(0, conv)
            depthwise = _only_user(end, (aten.conv2d.default,))
            if _depthwise_convolution(depthwise, end, channels):
                end, padded, after = _pad_per_channel_chain(
                    graph, depthwise, _pad_convolution(graph, depthwise, padded, extra, 0), extra)
                originals += [depthwise, *after]
            reader = _only_user(end, (aten.conv2d.default,))
            sites += 1
            if _pointwise_convolution(reader) and reader.args[0] is end:
                # The reader is rewritten next, in this loop: it reads the padded channels directly.
                reader.replace_input_with(end, padded)
                conv, source, extra_in = reader, padded, extra
            else:
                with graph.inserting_after(padded):
                    real = _add_node(graph, aten.slice.Tensor, (padded, 1, 0, channels), end)
                end.replace_all_uses_with(real)
            erased.update(originals)
            _erase(graph, originals)
    return sites


# ExecuTorch 1.5.1's XNNPACK runs a convolution with a kernel larger than 1x1 as an IGEMM, which on the AMD EPYC
# (Zen 3, AVX2) host reached about 18 GMAC/s per thread whatever its channels, against 40-48 for the GEMM of a 1x1
# convolution. The same convolution as im2col (its input padded, one slice per kernel tap, concatenated along the
# channels) and then one GEMM took 0.45-0.87x the time with 64 output channels or more, 2 threads, and 0.91-1.04x
# with 32 (DenseNet's 128 -> 32), where copying the taps costs about what the GEMM saves (benchmarks/im2col.py times
# both forms of each shape). In int8 it loses, and in fp32 on an Intel Xeon with AVX-512, whose IGEMM is fast, too:
# choices.py says where it runs.
IM2COL_MIN_OUT_CHANNELS = 64


def _im2col_candidate(conv: Node) -> bool:
    """An fp32 aten.conv2d with a parameter for its weight, one group, stride and dilation 1, a kernel larger than
    1x1, at least IM2COL_MIN_OUT_CHANNELS filters (XNNPACK slices only with step 1) and a map of static size (the
    slices' bounds are numbers)."""
    weight, _, groups = _weight_bias_groups(conv)
    stride, padding, dilation, _ = _conv_options(conv)
    if weight.op != "placeholder" or groups != 1 or _rank(conv) != 4 or conv.meta["val"].dtype != torch.float32:
        return False
    if not all(isinstance(size, int) for size in conv.meta["val"].shape[2:]):
        return False
    out_channels, _, *kernel = weight.meta["val"].shape
    return (kernel != [1, 1] and out_channels >= IM2COL_MIN_OUT_CHANNELS
            and all(s == 1 for s in _pair(stride)) and all(d == 1 for d in _pair(dilation)))


def _pair(option) -> list:
    return list(option) * (2 if len(option) == 1 else 1) if isinstance(option, (list, tuple)) else [option] * 2


def im2col_convolutions(graph: Graph) -> int:
    """A stride-1 convolution with a kernel larger than 1x1 (see _im2col_candidate) -> its input zero-padded as the
    convolution pads it, one slice of it per kernel tap (row by row), the slices concatenated along the channels
    and one 1x1 convolution over them with the weight's taps laid out in the same order: the same sums, so the
    outputs agree to rounding. The reordered weight is a constant, which rewrite_program folds into a parameter."""
    sites = 0
    for conv in _calls(graph, (aten.conv2d.default,)):
        if not _im2col_candidate(conv):
            continue
        source, (weight, bias, _) = conv.args[0], _weight_bias_groups(conv)
        out_channels, in_channels, rows, columns = weight.meta["val"].shape
        height, width = (int(size) for size in conv.meta["val"].shape[2:])
        pad_rows, pad_columns = _pair(_conv_options(conv)[1])
        with graph.inserting_before(conv):
            padded = source
            if pad_rows or pad_columns:  # constant_pad_nd lists the last axis first
                padded = _add_node(graph, aten.constant_pad_nd.default,
                                   (source, [pad_columns, pad_columns, pad_rows, pad_rows], 0.0), conv)
            taps = []
            for row in range(rows):
                band = _add_node(graph, aten.slice.Tensor, (padded, 2, row, row + height), conv)
                taps += [_add_node(graph, aten.slice.Tensor, (band, 3, column, column + width), conv)
                         for column in range(columns)]
            stacked = _add_node(graph, aten.cat.default, (taps, 1), conv)
            # Channel index of the concatenation: (row * columns + column) * in_channels + input channel.
            laid_out = _add_node(graph, aten.permute.default, (weight, [0, 2, 3, 1]), conv)
            flat = _add_node(graph, aten.reshape.default,
                             (laid_out, [out_channels, rows * columns * in_channels, 1, 1]), conv)
            pointwise = _add_node(graph, aten.conv2d.default,
                                  (stacked, flat, bias, [1, 1], [0, 0], [1, 1], 1), conv)
        conv.replace_all_uses_with(pointwise)
        graph.erase_node(conv)
        sites += 1
    return sites


def _slice_bounds(node: Node) -> tuple[int, int, int] | None:
    """(dim, start, stop) of a step-1 aten.slice with positional arguments, as Python clamps them to its input's
    size; else None."""
    if node.op != "call_function" or node.target is not aten.slice.Tensor or node.kwargs:
        return None
    dim, start, stop, step = (list(node.args[1:]) + [0, None, None, 1][len(node.args) - 1:])[:4]
    if step != 1:
        return None
    size = int(node.args[0].meta["val"].shape[dim])
    start, stop, _ = slice(start, stop).indices(size)
    return dim % _rank(node.args[0]), start, stop


def fold_slices(graph: Graph) -> int:
    """A slice of a slice along the same axis -> one slice of the first one's input: XNNPACK runs each slice as a
    copy, and pad_to_gemm_width's slice back to the real channels is what shuffle_plan's reads then slice."""
    sites = 0
    for outer in _calls(graph, (aten.slice.Tensor,)):
        inner = outer.args[0]
        outer_bounds, inner_bounds = _slice_bounds(outer), _slice_bounds(inner)
        if outer_bounds is None or inner_bounds is None or outer_bounds[0] != inner_bounds[0]:
            continue
        dim, start, stop = outer_bounds
        offset = inner_bounds[1]
        with graph.inserting_before(outer):
            folded = _add_node(graph, aten.slice.Tensor, (inner.args[0], dim, offset + start, offset + stop), outer)
        outer.replace_all_uses_with(folded)
        graph.erase_node(outer)
        if not inner.users:
            graph.erase_node(inner)
        sites += 1
    return sites


# In order: slices first, so that a shuffle block's concatenation reads slices; padding after the others, on the
# convolutions they leave (a split convolution's weight is a slice, which padding leaves alone); im2col after
# padding, whose rule its 1x1 convolutions (their weights no parameters) would otherwise meet; fold_slices last.
PASSES: dict[str, Callable[[Graph], int]] = {
    "split_to_slices": split_to_slices, "mean_keepdim": mean_keepdim, "concat_shuffle": concat_shuffle,
    "split_pointwise_over_concat": split_pointwise_over_concat, "pad_to_gemm_width": pad_to_gemm_width,
    "im2col_convolutions": im2col_convolutions, "fold_slices": fold_slices}


def apply_passes(graph_module: torch.fx.GraphModule, skip: Collection[str] = ()) -> dict[str, int]:
    """Every pass over the graph module but those named in `skip`, in place; returns sites rewritten per pass
    (0 for a skipped one)."""
    unknown = set(skip) - set(PASSES)
    if unknown:
        raise ValueError(f"no such pass: {', '.join(sorted(unknown))}")
    rewritten = {name: 0 if name in skip else rewrite(graph_module.graph) for name, rewrite in PASSES.items()}
    graph_module.graph.lint()
    graph_module.recompile()
    return rewritten


# Passes that derive new weights from parameters (slices, padding, reordering): rewrite_program folds them.
_WEIGHT_PASSES = ("split_pointwise_over_concat", "pad_to_gemm_width", "im2col_convolutions")


def rewrite_program(exported: torch.export.ExportedProgram,
                    skip: Collection[str] = ()) -> tuple[torch.export.ExportedProgram, dict[str, int]]:
    """The passes over an ExportedProgram's graph, but those named in `skip`; returns the rewritten program (the
    same object unless weights were derived, which are then folded into parameters) and the sites rewritten per
    pass."""
    rewritten = apply_passes(exported.graph_module, skip)
    _rename_outputs(exported)
    exported.validate()
    if any(rewritten[name] for name in _WEIGHT_PASSES):
        from executorch.exir.passes.constant_prop_pass import constant_prop_pass

        with torch.no_grad():  # folded slices of parameters that require grad would not be graph leaves
            exported = constant_prop_pass(exported)
    return exported, rewritten


def _rename_outputs(exported: torch.export.ExportedProgram) -> None:
    """The signature names each output by its node: a rewritten node that was an output has a new name."""
    output = next(node for node in exported.graph_module.graph.nodes if node.op == "output")
    for spec, node in zip(exported.graph_signature.output_specs, output.args[0]):
        if isinstance(node, Node) and hasattr(spec.arg, "name"):
            spec.arg.name = node.name
