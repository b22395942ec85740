"""A faster, equivalent graph for Smart Turn v3's int8 model, made once at load time.

The model ships in QDQ form; onnxruntime fuses it at load (QLinearMatMul, QLinearConv,
QLinearSoftmax, ...). Three things in the fused graph are slow on a CPU and are
rewritten here, in memory, on onnxruntime's own optimised graph (the model file is
never touched):

- `QLinearSoftmax` (the attention's softmax, 4 layers x 6 heads x 400 x 400 uint8
  values, a lookup-table kernel: ~30 % of a run) becomes exactly what it stands for,
  `QuantizeLinear(Softmax(DequantizeLinear(x)))` with the op's own input and output
  scales and zero points and its axis (its `opset` attribute is 13: softmax over the
  last axis, as opset 13's `Softmax` with that axis); the vectorised float softmax is
  several times faster, and the result the same within one quantisation step;
- attention's activation x activation products (Q.K^T and P.V) take both sides as
  uint8, which MLAS multiplies at a fraction of its uint8 x int8 (VNNI) rate: the B
  side's `QuantizeLinear` is given an int8 zero point 128 lower, so every stored value
  is 128 lower at the same scale, i.e. the very same real number, read as int8. Only
  where this CPU multiplies uint8 x int8 exactly (`signed_products_exact`, checked at
  load): with AVX2 and no VNNI, MLAS adds each pair of products in 16 bits
  (`vpmaddubsw`), which saturates far from the zero point (13 % of a random product's
  outputs changed on an AMD EPYC without VNNI), so there the products stay uint8;
- the GELU the exporter wrote out as `Div(x, sqrt 2) -> Erf -> Add 1 -> Mul 0.5 -> Mul x`
  (onnxruntime's own fusion does not match that order), over 400 x 1536 values in
  every layer, becomes the contrib `Gelu` op: the same function in one pass;
- the one `SkipLayerNormalization` onnxruntime fused (the last layer's residual) is
  split back into its adds and a `LayerNormalization`, in a sixth of the time (the fused
  CPU kernel took ~0.6 ms for 400 x 384 values, the split ~0.1). The adds keep the
  kernel's order (input + skip, then + bias), so the sums are the same bit for bit; the
  two kernels' mean and variance differ in the last bits, which moves 1-2 of the 153,600
  quantised outputs by one step on 37 of the synthetic set's 219 clips, the model's
  probability identical on all 219;
- nodes whose outputs nothing reads are dropped (the duplicate `DequantizeLinear` the
  written-out GELU read besides x; onnxruntime would run it anyway).

The rewritten graph is loaded with the batch fixed at 1 and only onnxruntime's basic
optimisations (constant folding of the shape arithmetic; the extended level would fuse
the softmax and the Skip-LayerNorm back).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper

__all__ = ["Rewrites", "fast_session", "optimised_graph", "rewrite", "signed_products_exact"]

_SQRT2 = float(np.sqrt(2.0))
_MS = "com.microsoft"
Consts = dict[str, npt.NDArray[np.generic]]


@dataclass(frozen=True, slots=True)
class Rewrites:
    """How many of each rewrite the graph took."""

    softmax: int
    signed_matmul: int
    gelu: int
    skip_layer_norm: int = 0
    dead: int = 0


def optimised_graph(path: Path) -> onnx.ModelProto:
    """onnxruntime's optimised form of the model at `path` (the extended level: no
    hardware-specific layouts), as it would run it."""
    with tempfile.TemporaryDirectory(prefix="openreplica-turn-") as tmp:
        out = Path(tmp) / "optimised.onnx"
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        opts.optimized_model_filepath = str(out)
        ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        return onnx.load(str(out))


def rewrite(model: onnx.ModelProto, *, signed_products: bool = True) -> Rewrites:
    """Rewrite `model` (onnxruntime's optimised graph) in place; `signed_products`: make
    attention's B sides int8 (exact only where `signed_products_exact()`)."""
    softmax = _float_softmax(model)
    signed = _signed_activations(model) if signed_products else 0
    gelu = _gelu(model)
    skip = _split_skip_layer_norm(model)
    dead = _drop_dead_nodes(model)
    if (softmax or gelu) and not any(o.domain == _MS for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid(_MS, 1))
    _drop_unused_initializers(model)
    return Rewrites(softmax, signed, gelu, skip, dead)


def _drop_unused_initializers(model: onnx.ModelProto) -> None:
    """The constants the rewrites left unused (the uint8 zero points, the GELU's scalars),
    which onnxruntime would otherwise warn about at every load."""
    graph = model.graph
    used = _uses(graph)
    kept = [t for t in graph.initializer if t.name in used]
    if len(kept) < len(graph.initializer):
        copies = []
        for t in kept:
            copy = onnx.TensorProto()
            copy.CopyFrom(t)
            copies.append(copy)
        del graph.initializer[:]
        graph.initializer.extend(copies)


def fast_session(path: Path, threads: int = 1) -> tuple[ort.InferenceSession, Rewrites]:
    """A session on the rewritten graph of the model at `path`."""
    model = optimised_graph(path)
    done = rewrite(model, signed_products=signed_products_exact())
    _fix_batch(model)
    return _basic_session(model, threads), done


def _basic_session(model: onnx.ModelProto, threads: int = 1) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # the basic level only: constant folding (of the shape arithmetic, now that the batch
    # is fixed) and the like; the extended level would fuse the softmax back
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    return ort.InferenceSession(
        model.SerializeToString(), sess_options=opts, providers=["CPUExecutionProvider"]
    )


def signed_products_exact() -> bool:
    """Whether onnxruntime on this CPU gives the same uint8 result for an activation x
    activation `QLinearMatMul` with its B side as int8 as with the same values as uint8
    (128 higher, zero point 128): random values, and a batch at the extremes, where
    16-bit pair sums would saturate. ~25 ms, once at load."""
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (2, 16, 64)).astype(np.uint8)
    b = rng.integers(-128, 128, (2, 64, 16)).astype(np.int8)
    a[0], b[0] = 255, -128
    unsigned = (b.astype(np.int16) + 128).astype(np.uint8)
    signed_out = _run_product(a, b, np.int8(0))
    unsigned_out = _run_product(a, unsigned, np.uint8(128))
    return bool(np.array_equal(signed_out, unsigned_out))


def _run_product(
    a: npt.NDArray[np.uint8], b: npt.NDArray[np.generic], b_zero: np.generic
) -> npt.NDArray[np.generic]:
    b_type = helper.np_dtype_to_tensor_dtype(b.dtype)
    node = helper.make_node("QLinearMatMul", ["a", "as", "az", "b", "bs", "bz", "ys", "yz"], ["y"])
    inits = [
        numpy_helper.from_array(np.array(value, dtype), name)
        for name, value, dtype in (
            ("as", 1.0, np.float32),
            ("az", 0, np.uint8),
            ("bs", 1.0, np.float32),
            ("ys", 20000.0, np.float32),  # 64 x 255 x -128 is about -100 steps
            ("yz", 128, np.uint8),
        )
    ]
    inits.append(numpy_helper.from_array(np.array(b_zero), "bz"))
    graph = helper.make_graph(
        [node],
        "signed_products",
        [
            helper.make_tensor_value_info("a", onnx.TensorProto.UINT8, list(a.shape)),
            helper.make_tensor_value_info("b", b_type, list(b.shape)),
        ],
        [helper.make_tensor_value_info("y", onnx.TensorProto.UINT8, [2, 16, 16])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    (out,) = _basic_session(model).run(None, {"a": a, "b": b})[:1]
    return np.asarray(out)


def _fix_batch(model: onnx.ModelProto) -> None:
    """The input's batch dimension is 1 (one turn at a time), which lets onnxruntime fold
    the attention's Shape/Gather/Slice/Concat arithmetic into constants (~40 nodes)."""
    for graph_input in model.graph.input:
        dims = graph_input.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            dims[0].ClearField("dim_param")
            dims[0].dim_value = 1


def _float_softmax(model: onnx.ModelProto) -> int:
    """QLinearSoftmax(x, x_scale, x_zp, y_scale, y_zp) -> DQ -> Softmax -> Q."""
    nodes: list[onnx.NodeProto] = []
    count = 0
    for node in model.graph.node:
        if node.op_type != "QLinearSoftmax" or node.domain != _MS:
            nodes.append(node)
            continue
        x, x_scale, x_zp, y_scale, y_zp = node.input
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        axis, opset = int(attrs.get("axis", -1)), int(attrs.get("opset", 13))
        if opset < 13 and axis != -1:
            # before opset 13 softmax flattens to 2-D at `axis`: the same only on the last
            nodes.append(node)
            continue
        name = node.name
        dq, soft = f"{name}_dq_out", f"{name}_float_out"
        nodes += [
            helper.make_node("DequantizeLinear", [x, x_scale, x_zp], [dq], name=f"{name}_dq"),
            helper.make_node("Softmax", [dq], [soft], name=f"{name}_float", axis=axis),
            helper.make_node(
                "QuantizeLinear", [soft, y_scale, y_zp], list(node.output), name=f"{name}_q"
            ),
        ]
        count += 1
    _set_nodes(model, nodes)
    return count


def _signed_activations(model: onnx.ModelProto) -> int:
    """A QLinearMatMul whose B is an activation quantised to uint8 by a QuantizeLinear
    (through Reshapes and Transposes only, each output used once) with the matmul's own
    zero point: both take that zero point minus 128 as int8."""
    graph = model.graph
    consts = {t.name: t for t in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}
    uses = _uses(graph)
    count = 0
    for node in graph.node:
        if node.op_type != "QLinearMatMul" or node.input[3] in consts:
            continue
        zp = consts.get(node.input[5])
        if zp is None or zp.data_type != onnx.TensorProto.UINT8:
            continue
        name = node.input[3]
        source = producer.get(name)
        while source is not None and source.op_type in ("Reshape", "Transpose"):
            if uses.get(name) != 1:
                source = None
                break
            name = source.input[0]
            source = producer.get(name)
        if source is None or source.op_type != "QuantizeLinear" or uses.get(name) != 1:
            continue
        q_zp = consts.get(source.input[2]) if len(source.input) > 2 else None
        if q_zp is None or q_zp.data_type != onnx.TensorProto.UINT8:
            continue
        value = numpy_helper.to_array(zp)
        if not np.array_equal(numpy_helper.to_array(q_zp), value):
            continue
        shifted = (value.astype(np.int16) - 128).astype(np.int8)
        signed = numpy_helper.from_array(shifted, f"{node.name}_b_zero_point_int8")
        graph.initializer.append(signed)
        source.input[2] = node.input[5] = signed.name
        count += 1
    return count


def _gelu(model: onnx.ModelProto) -> int:
    """Div(x, sqrt 2) -> Erf -> Add 1 -> Mul 0.5 -> Mul x (or a duplicate
    DequantizeLinear of x), only the last output used beyond the chain -> Gelu(x)."""
    graph = model.graph
    consts: Consts = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    outputs = {o.name for o in graph.output}

    def next_op(name: str, op: str) -> onnx.NodeProto | None:
        users = consumers.get(name, [])
        ok = len(users) == 1 and users[0].op_type == op and name not in outputs
        return users[0] if ok else None

    replace: dict[int, onnx.NodeProto] = {}
    dropped: set[int] = set()
    for div in graph.node:
        if div.op_type != "Div" or not _scalar(consts, div.input[1], _SQRT2):
            continue
        x = div.input[0]
        erf = next_op(div.output[0], "Erf")
        add = next_op(erf.output[0], "Add") if erf else None
        if erf is None or add is None or not _other_is(add, erf.output[0], consts, 1.0):
            continue
        half = next_op(add.output[0], "Mul")
        if half is None or not _other_is(half, add.output[0], consts, 0.5):
            continue
        last = next_op(half.output[0], "Mul")
        if last is None or len(last.input) != 2 or half.output[0] not in last.input:
            continue
        other = last.input[1] if last.input[0] == half.output[0] else last.input[0]
        if other != x and not _same_dequantize(producer.get(other), producer.get(x)):
            continue
        replace[id(last)] = helper.make_node(
            "Gelu", [x], list(last.output), name=f"{div.name}_gelu", domain=_MS
        )
        dropped.update(id(n) for n in (div, erf, add, half))
    _set_nodes(model, [replace.get(id(n), n) for n in graph.node if id(n) not in dropped])
    return len(replace)


def _split_skip_layer_norm(model: onnx.ModelProto) -> int:
    """SkipLayerNormalization(x, skip, gamma, beta[, bias]), only its first output read
    -> LayerNormalization(Add(Add(x, skip), bias), gamma, beta), the kernel's order."""
    graph = model.graph
    uses = _uses(graph)
    nodes: list[onnx.NodeProto] = []
    count = 0
    for node in graph.node:
        inputs = list(node.input)
        if (
            node.op_type != "SkipLayerNormalization"
            or node.domain != _MS
            or not 4 <= len(inputs) <= 5
            or "" in inputs[:4]
            or any(uses.get(out, 0) for out in node.output[1:] if out)
        ):
            nodes.append(node)
            continue
        x, skip, gamma, beta = inputs[:4]
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        total = f"{node.name}_sum"
        nodes.append(helper.make_node("Add", [x, skip], [total], name=f"{node.name}_add"))
        if len(inputs) == 5 and inputs[4]:
            biased = f"{node.name}_biased"
            nodes.append(
                helper.make_node("Add", [total, inputs[4]], [biased], name=f"{node.name}_bias")
            )
            total = biased
        nodes.append(
            helper.make_node(
                "LayerNormalization",
                [total, gamma, beta],
                [node.output[0]],
                name=f"{node.name}_norm",
                axis=-1,
                epsilon=float(attrs.get("epsilon", 1e-12)),  # the contrib op's default
            )
        )
        count += 1
    _set_nodes(model, nodes)
    return count


def _drop_dead_nodes(model: onnx.ModelProto) -> int:
    """Nodes none of whose outputs is read (by a node or as a graph output)."""
    dropped = 0
    while True:
        uses = _uses(model.graph)
        live = [n for n in model.graph.node if any(uses.get(out, 0) for out in n.output if out)]
        if len(live) == len(model.graph.node):
            return dropped
        dropped += len(model.graph.node) - len(live)
        _set_nodes(model, live)


def _same_dequantize(a: onnx.NodeProto | None, b: onnx.NodeProto | None) -> bool:
    """Two DequantizeLinear nodes of the same tensor with the same parameters."""
    return (
        a is not None
        and b is not None
        and a.op_type == b.op_type == "DequantizeLinear"
        and list(a.input) == list(b.input)
        and [x.SerializeToString() for x in a.attribute]
        == [x.SerializeToString() for x in b.attribute]
    )


def _other_is(node: onnx.NodeProto, mine: str, consts: Consts, value: float) -> bool:
    others = [i for i in node.input if i != mine]
    return len(node.input) == 2 and len(others) == 1 and _scalar(consts, others[0], value)


def _scalar(consts: Consts, name: str, value: float) -> bool:
    a = consts.get(name)
    return a is not None and a.size == 1 and abs(float(a.reshape(-1)[0]) - value) < 1e-6


def _uses(graph: onnx.GraphProto) -> dict[str, int]:
    uses: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            uses[name] = uses.get(name, 0) + 1
    for out in graph.output:
        uses[out.name] = uses.get(out.name, 0) + 1
    return uses


def _set_nodes(model: onnx.ModelProto, nodes: list[onnx.NodeProto]) -> None:
    kept = list(nodes)  # copies of the references before the container is cleared
    copies = [onnx.NodeProto() for _ in kept]
    for copy, node in zip(copies, kept, strict=True):
        copy.CopyFrom(node)
    del model.graph.node[:]
    model.graph.node.extend(copies)
