"""Which network module each delegated operator event comes from: the ETRecord's nodes, aligned by operator kind.

XNNPACK names its profiling events after its own operators ("Convolution (NHWC, F32) IGEMM #3") and gives
them no debug handles, so ExecuTorch's Inspector leaves their module hierarchy empty. The ETRecord still says
which edge-graph nodes (with their `nn_module_stack`) each delegate call holds, in graph order, and XNNPACK
creates its operators in that order. Walking both lists together, an event takes the next node of a compatible
kind; nodes XNNPACK folds into their neighbour (activations fused into a convolution, reshapes, quantize /
dequantize pairs) may be passed over. An event with no compatible node ahead (a layout transpose or copy that
XNNPACK inserts itself) is attributed to the module of the node it precedes, and marked as inserted.
"""

from __future__ import annotations

import re
from pathlib import Path

from cmx_bench.errors import ParseError

# XNNPACK operator family (the event name before " (") -> edge ops it can come from.
_EVENT_OPS = {
    "Convolution": {"convolution"}, "Deconvolution": {"convolution"},
    "Fully Connected": {"convolution", "linear", "addmm", "mm"},  # 1x1 convolutions run as GEMMs
    "Batch Matrix Multiply": {"bmm", "matmul"},
    "Max Pooling": {"max_pool2d", "max_pool2d_with_indices"},
    "Average Pooling": {"avg_pool2d", "adaptive_avg_pool2d"},
    "Global Average Pooling": {"mean", "adaptive_avg_pool2d", "avg_pool2d"}, "Mean": {"mean", "adaptive_avg_pool2d"},
    "Sum": {"sum"},
    "Add": {"add"}, "Subtract": {"sub"}, "Multiply": {"mul"}, "Divide": {"div"},
    "Clamp": {"relu", "hardtanh", "clamp"}, "ReLU": {"relu"}, "HardSwish": {"hardswish"}, "Sigmoid": {"sigmoid"},
    "Softmax": {"_softmax", "softmax"},
    "Copy": {"cat", "view_copy", "clone", "split_with_sizes_copy", "split_copy", "slice_copy", "squeeze_copy",
             "unsqueeze_copy", "permute_copy", "expand_copy", "_to_dim_order_copy", "_clone_dim_order"},
    "Concatenate": {"cat"}, "Static Reshape": {"view_copy", "squeeze_copy", "unsqueeze_copy"},
    "Reshape": {"view_copy", "squeeze_copy", "unsqueeze_copy"},
    "Transpose": {"permute_copy", "transpose_copy", "t_copy", "_to_dim_order_copy", "_clone_dim_order"},
    "Even Split": {"split_with_sizes_copy", "split_copy"}, "Split": {"split_with_sizes_copy", "split_copy"},
    "Slice": {"slice_copy"}, "Constant Pad": {"constant_pad_nd"},
    "Convert": {"quantize_per_tensor", "dequantize_per_tensor", "_to_copy", "_to_dim_order_copy"},
}
# Nodes that may leave no event of their own: fused into a neighbour, or free in NHWC layout.
_FOLDABLE = {"relu", "hardtanh", "clamp", "view_copy", "squeeze_copy", "unsqueeze_copy", "clone", "alias_copy",
             "quantize_per_tensor", "dequantize_per_tensor", "dequantize_per_channel", "_to_dim_order_copy",
             "_clone_dim_order", "getitem", "_native_batch_norm_legit_no_training", "native_batch_norm",
             "batch_norm"}  # BatchNorm is folded into the convolution before it
# Nodes that XNNPACK runs as several operators (a concatenation as one copy per input).
_SEVERAL_EVENTS = {"cat", "split_with_sizes_copy", "split_copy"}


def event_family(name: str) -> str:
    return name.split(" (", 1)[0].split(" #", 1)[0].strip()


def _op_name(target) -> str:
    text = str(target)
    found = re.search(r"(?:aten|quantized_decomposed|dim_order_ops)\.([A-Za-z0-9_]+)", text)
    return found.group(1) if found else getattr(target, "__name__", text)


def _module_of(node) -> str:
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return ""
    path, kind = list(stack.values())[-1]
    # Exports wrap the network in WithSoftmax (its module "net"): the network's own names are what users know.
    if path == "":
        return "(output softmax)" if kind.endswith("WithSoftmax") else "(graph input/output)"
    if path == "net":
        return f"({kind.rsplit('.', 1)[-1]}.forward)"
    return path[len("net."):] if path.startswith("net.") else path


def delegate_nodes(etrecord_path: str | Path, method: str = "forward") -> list[list[tuple[str, str]]]:
    """Per delegate call, in execution order: the (edge op, module path) of each node it holds, in graph order."""
    from executorch.devtools.etrecord import parse_etrecord

    try:
        record = parse_etrecord(str(etrecord_path))
        handles = record._debug_handle_map[method]
        delegates = record._delegate_map[method]
        graph = record.edge_dialect_program.graph_module.graph
    except Exception as exc:  # a truncated file, another method, or an ETRecord from an unknown release
        raise ParseError(f"ETRecord {etrecord_path} cannot be read ({(str(exc).splitlines() or [type(exc).__name__])[0][:120]})"
                         ) from exc
    calls = []
    for instruction in sorted(delegates, key=int):
        held = set(handles.get(instruction, []))
        # Graph order, every node: quantized graphs give an operator and its quantize/dequantize one handle.
        nodes = [n for n in graph.nodes if n.op == "call_function" and n.meta.get("debug_handle") in held]
        calls.append([(_op_name(n.target), _module_of(n)) for n in nodes])
    return calls


def _nearest_module(nodes: list[tuple[str, str]], index: int) -> str:
    """The module of the first node at or after `index` that belongs to a network module (else the last before):
    quantize/dequantize nodes and XNNPACK's own operators belong to the operator they feed."""
    order = list(range(index, len(nodes))) + list(range(min(index, len(nodes)) - 1, -1, -1))
    return next((nodes[i][1] for i in order if nodes[i][1] and not nodes[i][1].startswith("(")),
                nodes[min(index, len(nodes) - 1)][1] if nodes else "")


def align(events: list[str], nodes: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(module, how) for each event of one delegate call: how is 'operator' (its own node) or 'inserted'."""
    mapped, position, last = [], 0, None
    for name in events:
        ops = _EVENT_OPS.get(event_family(name), set())
        match = None
        if last is not None and nodes[last][0] in _SEVERAL_EVENTS and nodes[last][0] in ops:
            match = last
        else:
            for index in range(position, len(nodes)):
                if nodes[index][0] in ops:
                    match = index
                    break
                if nodes[index][0] not in _FOLDABLE:
                    break
        if match is None:
            mapped.append((_nearest_module(nodes, position), "inserted"))
            continue
        module = nodes[match][1]
        # A quantize/dequantize at the graph's edge belongs to the operator it feeds.
        mapped.append((module if module != "(graph input/output)" else _nearest_module(nodes, match), "operator"))
        position, last = match + 1, match
    return mapped
