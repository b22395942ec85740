"""The Smart Turn graph rewrite: each rewrite on a small graph of its own, run before and
after by onnxruntime; then the real model (rewritten at load, checked against the
shipped graph, and run as shipped when the check fails)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from turn_model import turn_model_path

from openreplica.plugins import turn_smart
from openreplica.plugins.audio import float_to_pcm16
from openreplica.plugins.turn_graph import Rewrites, fast_session, rewrite, signed_products_exact
from openreplica.plugins.turn_smart import CHECK_TOLERANCE, SmartTurnModel

Array = npt.NDArray[Any]


def run(model: onnx.ModelProto, feeds: dict[str, Array]) -> list[Array]:
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(
        model.SerializeToString(), sess_options=opts, providers=["CPUExecutionProvider"]
    )
    return [np.asarray(x) for x in session.run(None, feeds)]


def const(name: str, value: Array) -> onnx.TensorProto:
    return numpy_helper.from_array(value, name)


Shapes = dict[str, tuple[int, list[int]]]


def small_model(
    nodes: list[onnx.NodeProto], inits: list[onnx.TensorProto], io: Shapes, outputs: Shapes
) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info(k, t, s) for k, (t, s) in io.items()],
        [helper.make_tensor_value_info(k, t, s) for k, (t, s) in outputs.items()],
        inits,
    )
    opsets = [helper.make_opsetid("", 18), helper.make_opsetid("com.microsoft", 1)]
    return helper.make_model(graph, opset_imports=opsets, ir_version=10)


def test_qlinear_softmax_becomes_float_softmax_within_one_quantisation_step() -> None:
    node = helper.make_node(
        "QLinearSoftmax",
        ["x", "xs", "xz", "ys", "yz"],
        ["y"],
        domain="com.microsoft",
        opset=13,
        axis=-1,
    )
    inits = [
        const("xs", np.array(0.2, np.float32)),
        const("xz", np.array(114, np.uint8)),
        const("ys", np.array(1 / 258, np.float32)),
        const("yz", np.array(0, np.uint8)),
    ]
    shape = [1, 6, 40, 40]
    model = small_model(
        [node], inits, {"x": (TensorProto.UINT8, shape)}, {"y": (TensorProto.UINT8, shape)}
    )
    x = np.random.default_rng(1).integers(60, 200, shape).astype(np.uint8)
    (before,) = run(model, {"x": x})
    assert rewrite(model) == Rewrites(softmax=1, signed_matmul=0, gelu=0)
    assert [n.op_type for n in model.graph.node] == [
        "DequantizeLinear",
        "Softmax",
        "QuantizeLinear",
    ]
    (after,) = run(model, {"x": x})
    diff = np.abs(after.astype(np.int32) - before.astype(np.int32))
    assert diff.max() <= 1 and (diff > 0).mean() < 0.01
    # and what the float path computes is the op's definition, exactly
    real = (x.astype(np.float32) - 114) * np.float32(0.2)
    e = np.exp(real - real.max(-1, keepdims=True))
    want = np.clip(np.rint(e / e.sum(-1, keepdims=True) / np.float32(1 / 258)), 0, 255)
    assert np.abs(after.astype(np.int32) - want.astype(np.int32)).max() <= 1


def test_the_written_out_gelu_becomes_one_gelu_op() -> None:
    nodes = [
        helper.make_node("DequantizeLinear", ["q", "s", "z"], ["x"]),
        helper.make_node("DequantizeLinear", ["q", "s", "z"], ["x2"]),  # a duplicate
        helper.make_node("Div", ["x", "sqrt2"], ["d"]),
        helper.make_node("Erf", ["d"], ["e"]),
        helper.make_node("Add", ["e", "one"], ["a"]),
        helper.make_node("Mul", ["half", "a"], ["h"]),
        helper.make_node("Mul", ["x2", "h"], ["y"]),
    ]
    inits = [
        const("s", np.array(0.05, np.float32)),
        const("z", np.array(128, np.uint8)),
        const("sqrt2", np.array(np.sqrt(2.0), np.float32)),
        const("one", np.array(1.0, np.float32)),
        const("half", np.array(0.5, np.float32)),
    ]
    model = small_model(
        nodes, inits, {"q": (TensorProto.UINT8, [4, 64])}, {"y": (TensorProto.FLOAT, [4, 64])}
    )
    q = np.random.default_rng(2).integers(0, 256, (4, 64)).astype(np.uint8)
    (before,) = run(model, {"q": q})
    done = rewrite(model)
    assert done.gelu == 1 and done.dead == 1  # the duplicate only the last Mul read
    assert [n.op_type for n in model.graph.node] == ["DequantizeLinear", "Gelu"]
    (after,) = run(model, {"q": q})
    np.testing.assert_allclose(after, before, atol=1e-5)


def activation_product() -> onnx.ModelProto:
    """Attention's shape of product: a uint8 activation times another, quantised (to
    uint8, the matmul's own zero point) and transposed on its way."""
    nodes = [
        helper.make_node("QuantizeLinear", ["bf", "bs", "bz"], ["bq"]),
        helper.make_node("Transpose", ["bq"], ["bt"], perm=[0, 2, 1]),
        helper.make_node("QLinearMatMul", ["a", "as", "az", "bt", "bs", "bz2", "ys", "yz"], ["y"]),
    ]
    inits = [
        const("bs", np.array(0.03, np.float32)),
        const("bz", np.array(130, np.uint8)),
        const("bz2", np.array(130, np.uint8)),
        const("as", np.array(0.02, np.float32)),
        const("az", np.array(120, np.uint8)),
        const("ys", np.array(0.2, np.float32)),
        const("yz", np.array(110, np.uint8)),
    ]
    return small_model(
        nodes,
        inits,
        {"a": (TensorProto.UINT8, [6, 40, 64]), "bf": (TensorProto.FLOAT, [6, 40, 64])},
        {"y": (TensorProto.UINT8, [6, 40, 40])},
    )


def test_an_activation_b_side_becomes_int8_with_the_same_values() -> None:
    model = activation_product()
    rng = np.random.default_rng(3)
    feeds: dict[str, Array] = {
        "a": rng.integers(0, 256, (6, 40, 64)).astype(np.uint8),
        "bf": rng.normal(0, 1.5, (6, 40, 64)).astype(np.float32),
    }
    (before,) = run(model, feeds)
    assert rewrite(model).signed_matmul == 1
    zero_points = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    matmul = next(n for n in model.graph.node if n.op_type == "QLinearMatMul")
    assert zero_points[matmul.input[5]].dtype == np.int8 and zero_points[matmul.input[5]] == 2
    (after,) = run(model, feeds)
    if signed_products_exact():
        np.testing.assert_array_equal(after, before)
    else:  # this CPU's uint8 x int8 kernel saturates (AVX2 without VNNI), as the probe says
        assert not np.array_equal(after, before)


def test_the_signed_products_are_left_alone_where_the_cpu_would_saturate_them() -> None:
    model = activation_product()
    assert rewrite(model, signed_products=False).signed_matmul == 0
    matmul = next(n for n in model.graph.node if n.op_type == "QLinearMatMul")
    assert matmul.input[5] == "bz2"  # still the uint8 zero point


def test_a_skip_layer_norm_becomes_its_adds_and_a_layer_norm() -> None:
    node = helper.make_node(
        "SkipLayerNormalization",
        ["x", "skip", "gamma", "beta", "bias"],
        ["y"],
        domain="com.microsoft",
        epsilon=1e-5,
    )
    rng = np.random.default_rng(4)
    inits = [
        const(name, rng.normal(0, 1, 64).astype(np.float32)) for name in ("gamma", "beta", "bias")
    ]
    shape = [1, 50, 64]
    io: Shapes = {"x": (TensorProto.FLOAT, shape), "skip": (TensorProto.FLOAT, shape)}
    model = small_model([node], inits, io, {"y": (TensorProto.FLOAT, shape)})
    feeds: dict[str, Array] = {k: rng.normal(0, 3, shape).astype(np.float32) for k in io}
    (before,) = run(model, feeds)
    assert rewrite(model).skip_layer_norm == 1
    assert [n.op_type for n in model.graph.node] == ["Add", "Add", "LayerNormalization"]
    (after,) = run(model, feeds)
    # the same sums; the two kernels' mean and variance differ in the last bits only
    np.testing.assert_allclose(after, before, rtol=0, atol=2e-5)
    total = feeds["x"] + feeds["skip"] + numpy_helper.to_array(inits[2])
    norm = (total - total.mean(-1, keepdims=True)) / np.sqrt(total.var(-1, keepdims=True) + 1e-5)
    want = norm * numpy_helper.to_array(inits[0]) + numpy_helper.to_array(inits[1])
    np.testing.assert_allclose(after, want, rtol=0, atol=1e-4)


def voice(seconds: float) -> bytes:
    t = np.arange(int(16000 * seconds)) / 16000
    rng = np.random.default_rng(5)
    voiced = 0.3 * np.sin(2 * np.pi * 130 * t) * (1 + np.sin(2 * np.pi * 4 * t))
    return float_to_pcm16((voiced + rng.normal(0, 0.01, t.size)).astype(np.float32))


@pytest.fixture(scope="module")
def model_path() -> Path:
    return turn_model_path()


def test_the_real_model_is_rewritten_at_load_and_agrees_with_the_shipped_graph(
    model_path: Path,
) -> None:
    fast = SmartTurnModel(model_path, text=False)
    shipped = SmartTurnModel(model_path, text=False, fast=False)
    signed = 8 if signed_products_exact() else 0  # see the probe's test above
    assert fast.rewrites == Rewrites(
        softmax=4, signed_matmul=signed, gelu=8, skip_layer_norm=1, dead=3
    )
    assert shipped.rewrites is None
    for seconds in (1.0, 2.5):
        pcm = voice(seconds)
        got, want = fast.completion_probability(pcm), shipped.completion_probability(pcm)
        assert 0.0 <= got <= 1.0 and abs(got - want) <= CHECK_TOLERANCE
    _, rewrites = fast_session(model_path)
    assert rewrites == fast.rewrites


def test_a_rewritten_graph_that_disagrees_is_not_used(
    model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(turn_smart, "CHECK_TOLERANCE", -1.0)  # any answer disagrees
    model = SmartTurnModel(model_path, text=False)
    assert model.rewrites is None
    assert 0.0 <= model.completion_probability(voice(1.0)) <= 1.0
