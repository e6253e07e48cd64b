"""reference.rules (and the rule checks reference.engine.expect makes) against torch 2.13's observed behaviour.

Expected results are hard-coded from observations/torch-2.13.0.txt (OBS ids in comments), from
NumPy's broadcasting, and, for the Gaussian var-shape rule, from the condition in torch 2.13's
torch/nn/functional.py::gaussian_nll_loss restated here.
"""

from __future__ import annotations

import itertools

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference import engine, rules
from reference.rules import SpecError, SpecWarning

SETTINGS = settings(max_examples=300, deadline=None, derandomize=True)
MSG = "size_average and reduce args will be deprecated, please use reduction='{}' instead."


def is_error(r, type_=None):
    return isinstance(r, SpecError) and (type_ is None or r.type == type_)


# --- API-SIGNATURE: bind ----------------------------------------------------------------------------
def test_signatures_match_observed():
    # OBS-138 .. OBS-143 (parameter names, order, defaults, keyword-only markers)
    sig = rules.SIGNATURES
    assert list(sig[("poisson", "functional")].parameters) == [
        "input", "target", "log_input", "full", "size_average", "eps", "reduce", "reduction"]
    assert list(sig[("poisson", "module")].parameters) == [
        "log_input", "full", "size_average", "eps", "reduce", "reduction"]
    assert list(sig[("gaussian", "functional")].parameters) == ["input", "target", "var", "full", "eps", "reduction"]
    assert list(sig[("gaussian", "module")].parameters) == ["full", "eps", "reduction"]
    assert all(p.kind == p.KEYWORD_ONLY for p in sig[("gaussian", "module")].parameters.values())
    assert rules.bind("poisson", "functional", (), {}) == dict(
        log_input=True, full=False, size_average=None, eps=1e-8, reduce=None, reduction="mean")
    assert rules.bind("poisson", "module", (), {}) == dict(
        log_input=True, full=False, size_average=None, eps=1e-8, reduce=None, reduction="mean")
    assert rules.bind("gaussian", "functional", (), {}) == dict(full=False, eps=1e-6, reduction="mean")
    assert rules.bind("gaussian", "module", (), {}) == dict(full=False, eps=1e-6, reduction="mean")


def test_bind_poisson_module_third_positional_is_size_average():
    # OBS-130: nn.PoissonNLLLoss(True, False, 1e-3) -> eps stays 1e-8, size_average=1e-3 -> 'mean' + warning
    b = rules.bind("poisson", "module", (True, False, 1e-3), {})
    assert b == dict(log_input=True, full=False, size_average=1e-3, eps=1e-8, reduce=None, reduction="mean")
    assert rules.legacy_reduction(b["size_average"], b["reduce"]) == (
        "mean", SpecWarning("LEGACY-WARN", "UserWarning", MSG.format("mean")))


def test_bind_poisson_positional_eps():
    # OBS-131: nn.PoissonNLLLoss(False, False, None, 0.5, reduction='none') -> eps=0.5
    b = rules.bind("poisson", "module", (False, False, None, 0.5), {"reduction": "none"})
    assert b["eps"] == 0.5 and b["size_average"] is None and b["reduction"] == "none"
    # OBS-132: F.poisson_nll_loss(x, t, False, False, 0.5): the fifth positional is size_average
    b = rules.bind("poisson", "functional", (False, False, 0.5), {})
    assert b["size_average"] == 0.5 and b["eps"] == 1e-8
    # OBS-133: F.poisson_nll_loss(x, t, False, False, None, 0.5, None, 'none')
    b = rules.bind("poisson", "functional", (False, False, None, 0.5, None, "none"), {})
    assert b == dict(log_input=False, full=False, size_average=None, eps=0.5, reduce=None, reduction="none")


def test_bind_type_errors():
    # OBS-209: nn.GaussianNLLLoss(True) -> TypeError at construction
    r = rules.bind("gaussian", "module", (True,), {})
    assert is_error(r, "TypeError") and r.when == "construction" and r.clause == "API-SIGNATURE"
    # OBS-210: keywords are fine
    assert rules.bind("gaussian", "module", (), dict(full=True, eps=1e-3, reduction="sum")) == dict(
        full=True, eps=1e-3, reduction="sum")
    # OBS-211 / OBS-212: no legacy keywords on the Gaussian module
    assert is_error(rules.bind("gaussian", "module", (), {"size_average": True}), "TypeError")
    assert is_error(rules.bind("gaussian", "module", (), {"reduce": False}), "TypeError")
    # OBS-213: nor on the functional, where the error is at call
    r = rules.bind("gaussian", "functional", (), {"size_average": True})
    assert is_error(r, "TypeError") and r.when == "call"
    # OBS-214: the Gaussian functional takes full, eps, reduction positionally
    assert rules.bind("gaussian", "functional", (True, 1e-6, "none"), {}) == dict(full=True, eps=1e-6, reduction="none")
    # Python's own binding errors: too many positionals, a parameter given twice, an unknown keyword
    assert is_error(rules.bind("poisson", "functional", (True, False, None, 1e-8, None, "mean", 7), {}), "TypeError")
    assert is_error(rules.bind("poisson", "module", (True,), {"log_input": False}), "TypeError")
    assert is_error(rules.bind("poisson", "functional", (), {"eps_": 1.0}), "TypeError")


# --- LEGACY-MAP -------------------------------------------------------------------------------------
# (size_average, reduce, reduction); OBS-066 .. OBS-081 (functional, reduction='sum'). A list, not a
# dict: 0 == False would merge the integer cases into the bool ones and leave truthiness untested.
LEGACY = [
    (None, None, None),
    (None, True, "mean"), (None, False, "none"), (None, 0, "none"),
    (True, None, "mean"), (True, True, "mean"), (True, False, "none"), (True, 0, "none"),
    (False, None, "sum"), (False, True, "sum"), (False, False, "none"), (False, 0, "none"),
    (0, None, "sum"), (0, True, "sum"), (0, False, "none"), (0, 0, "none"),
    (1e-3, None, "mean"),  # OBS-134: truthy float
    ("", None, "sum"),  # OBS-135: falsy string
]
LEGACY_IDS = [f"sa={sa!r}-rd={rd!r}" for sa, rd, _ in LEGACY]


@pytest.mark.parametrize("sa,rd,want", LEGACY, ids=LEGACY_IDS)
def test_legacy_reduction(sa, rd, want):
    got = rules.legacy_reduction(sa, rd)
    if want is None:
        assert got is None
        return
    red, warn = got
    assert red == want
    assert (warn.category, warn.message) == ("UserWarning", MSG.format(want))


@pytest.mark.parametrize("form", ["functional", "module"])
@pytest.mark.parametrize("sa,rd,legacy", LEGACY, ids=LEGACY_IDS)
def test_legacy_arguments_through_expect(form, sa, rd, legacy):
    # OBS-066..081 (functional) and OBS-098..113 (module): the legacy pair overrides reduction='sum';
    # the module warns at construction, the functional at call
    x = np.array([[0.5, 1.0], [-0.5, 2.0]])
    t = np.array([[1.0, 0.0], [2.0, 3.0]])
    exp = engine.expect(engine.Call("poisson", form, {"input": x, "target": t},
                              kwargs=dict(size_average=sa, reduce=rd, reduction="sum")))
    want = legacy or "sum"
    assert exp.error is None and exp.reduction == want
    assert exp.output.shape == ((2, 2) if want == "none" else ())
    if legacy is None:
        assert exp.warnings == []
    else:
        assert [(w.message, w.when) for w in exp.warnings] == [
            (MSG.format(want), "construction" if form == "module" else "call")]


def test_legacy_overrides_an_invalid_reduction():
    x = np.array([0.5])
    t = np.array([2.0])
    # OBS-083 / OBS-115: reduce=True with reduction='bogus' -> 'mean', no error
    for form in ("functional", "module"):
        exp = engine.expect(engine.Call("poisson", form, {"input": x, "target": t},
                                  kwargs=dict(reduce=True, reduction="bogus")))
        assert exp.error is None and exp.reduction == "mean"
    # OBS-082 / OBS-114: no legacy argument -> the invalid reduction raises (at call, also for the module)
    for form in ("functional", "module"):
        exp = engine.expect(engine.Call("poisson", form, {"input": x, "target": t}, kwargs=dict(reduction="bogus")))
        assert (exp.error.type, exp.error.message) == ("ValueError", "bogus is not a valid value for reduction")
        assert exp.error.when == "call"


# --- RED-VALID --------------------------------------------------------------------------------------
@pytest.mark.parametrize("loss", ["poisson", "gaussian"])
@pytest.mark.parametrize("red", ["none", "mean", "sum"])
def test_check_reduction_valid(loss, red):
    assert rules.check_reduction(loss, red) is None


@pytest.mark.parametrize("loss,red,type_,message", [
    ("poisson", "bogus", "ValueError", "bogus is not a valid value for reduction"),  # OBS-050
    ("poisson", "elementwise_mean", "ValueError", "elementwise_mean is not a valid value for reduction"),  # OBS-051
    ("poisson", "MEAN", "ValueError", "MEAN is not a valid value for reduction"),  # OBS-052
    ("poisson", "", "ValueError", " is not a valid value for reduction"),  # OBS-053
    ("poisson", None, "TypeError", None),  # OBS-054 (Python's own message)
    ("gaussian", "bogus", "ValueError", "bogus is not valid"),  # OBS-061
    ("gaussian", "elementwise_mean", "ValueError", "elementwise_mean is not valid"),  # OBS-062
    ("gaussian", None, "TypeError", None),  # OBS-063
    ("gaussian", 1, "TypeError", None),
])
def test_check_reduction_invalid(loss, red, type_, message):
    r = rules.check_reduction(loss, red)
    assert is_error(r, type_) and r.message == message


# --- GNLL-VAR-SHAPE -------------------------------------------------------------------------------
VAR_SHAPES = [  # (input shape, var shape, effective var shape or error type); OBS-164 .. OBS-191
    ((2, 3), (), "ValueError"),  # OBS-164
    ((3, 3), (3,), (3, 1)),  # OBS-165: per row
    ((2, 3, 4), (2, 3, 4), (2, 3, 4)),  # OBS-168
    ((2, 3, 4), (2, 3), (2, 3, 1)),  # OBS-169
    ((2, 3, 4), (2, 3, 1), (2, 3, 1)),  # OBS-170
    ((2, 3, 4), (2, 1, 4), (2, 1, 4)),  # OBS-171
    ((2, 3, 4), (1, 3, 4), (1, 3, 4)),  # OBS-172
    ((2, 3, 4), (2, 1, 1), "ValueError"),  # OBS-173
    ((2, 3, 4), (1, 1, 4), "ValueError"),  # OBS-174
    ((2, 3, 4), (4,), "ValueError"),  # OBS-175
    ((2, 3, 4), (3, 4), "ValueError"),  # OBS-176
    ((2, 3, 4), (1,), "ValueError"),  # OBS-177
    ((2, 3, 4), (), "ValueError"),  # OBS-178
    ((2, 3, 4), (2, 3, 4, 1), "ValueError"),  # OBS-179
    ((2, 3, 4), (2, 3, 5), "ValueError"),  # OBS-180
    ((2, 3, 4), (1, 3, 1), "ValueError"),  # OBS-181
    ((2, 3, 4), (2, 3, 0), "ValueError"),  # OBS-183
    ((2, 1, 4), (2, 3, 4), "ValueError"),  # OBS-184
    ((2, 1, 4), (1, 1, 4), (1, 1, 4)),  # OBS-185
    ((3,), (), (1,)),  # OBS-186
    ((3,), (1,), (1,)),  # OBS-187
    ((), (), ()),  # OBS-188
    ((), (1,), "ValueError"),  # OBS-189
    ((2, 3, 1), (2, 3), (2, 3, 1)),  # OBS-190
    ((2, 0, 4), (2, 1, 4), (2, 1, 4)),  # OBS-191
]


@pytest.mark.parametrize("shape,vshape,want", VAR_SHAPES)
def test_gaussian_var_shape(shape, vshape, want):
    got = rules.gaussian_var_shape(shape, vshape)
    if isinstance(want, str):
        assert is_error(got, want) and got.message == "var is of incorrect size"
    else:
        assert got == want
        assert not is_error(rules.broadcast_shapes(shape, got))


@pytest.mark.parametrize("shape,vshape,want", VAR_SHAPES)
def test_gaussian_var_shape_through_expect(shape, vshape, want):
    exp = engine.expect(engine.Call("gaussian", "functional",
                              {"input": np.zeros(shape), "target": np.zeros(shape), "var": np.ones(vshape)},
                              kwargs=dict(reduction="none"), grad_wrt=("var",)))
    if isinstance(want, str):
        assert exp.error is not None and exp.error.type == want
    else:
        assert exp.error is None and exp.output.shape == shape and exp.grads["var"].shape == vshape


def test_gaussian_float_var_applies_everywhere():
    assert rules.gaussian_var_shape((2, 3), None) == (2, 3)  # GNLL-VAR-FLOAT, OBS-154


def _torch_213_var_shape(S, V):
    """The condition of torch 2.13's gaussian_nll_loss (torch/nn/functional.py), restated.

    Accepted: V == S; V == S[:-1] (unsqueezed at the end); or same ndim and the sizes of var over the
    mismatched dimensions sum to 1. Returns the shape var is broadcast with, or 'ValueError'.
    """
    if V == S:
        return V
    if S[:-1] == V:
        return V + (1,)
    if len(S) == len(V) and sum(v for s, v in zip(S, V) if s != v) == 1:
        return V
    return "ValueError"


shape_st = st.lists(st.integers(1, 3), min_size=0, max_size=4).map(tuple)


@SETTINGS
@given(S=shape_st, data=st.data())
def test_gaussian_var_shape_matches_torch_condition_without_empty_dims(S, data):
    # var shapes close to S: S itself with some dims set to 1 or changed, or a dim dropped / added
    V = tuple(data.draw(st.sampled_from([s, 1, s + 1])) for s in S)
    V = data.draw(st.sampled_from([V, V[:-1], V + (1,), S[:-1], S]))
    got = rules.gaussian_var_shape(S, V)
    want = _torch_213_var_shape(S, V)
    if want == "ValueError":
        assert is_error(got, "ValueError"), (S, V, got)
    else:
        assert got == want, (S, V, got)


def test_gaussian_var_shape_with_an_empty_mismatched_dim_is_a_size_error():
    # OBS-182: torch 2.13 lets var (2, 1, 0) through its size check (the var sizes over the mismatched
    # dims sum to 1) and fails in broadcasting (RuntimeError); the spec requires the size error
    # (GNLL-VAR-SHAPE; SPEC chapter 13 lists torch's behaviour as a known deviation)
    exp = engine.expect(engine.Call("gaussian", "functional", {"input": np.zeros((2, 3, 4)), "target": np.zeros((2, 3, 4)),
                                                         "var": np.ones((2, 1, 0))}, kwargs=dict(reduction="none")))
    assert (exp.error.type, exp.error.message) == ("ValueError", "var is of incorrect size")
    assert _torch_213_var_shape((2, 3, 4), (2, 1, 0)) == (2, 1, 0)  # torch's own condition accepts it


# --- SHAPE-BROADCAST --------------------------------------------------------------------------------
def _np_broadcast(*shapes):
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        return "RuntimeError"


@SETTINGS
@given(shapes=st.lists(st.lists(st.integers(0, 3), max_size=4).map(tuple), min_size=1, max_size=3))
def test_broadcast_shapes_matches_numpy(shapes):
    got = rules.broadcast_shapes(*shapes)
    want = _np_broadcast(*shapes)
    if want == "RuntimeError":
        assert is_error(got, "RuntimeError"), (shapes, got)
    else:
        assert got == want, (shapes, got)


@pytest.mark.parametrize("shapes,want", [
    (((3,), (2, 3)), (2, 3)),  # OBS-034
    (((2, 1), (1, 3)), (2, 3)),  # OBS-035
    (((2, 3), (4, 3)), "RuntimeError"),  # OBS-037
    (((2, 3), (2, 2, 3), (2, 3)), (2, 2, 3)),  # OBS-199
    (((1, 3), (2, 3), (1, 3)), (2, 3)),  # OBS-200
    (((2, 3), (4, 3), (2, 3)), "RuntimeError"),  # OBS-198
    (((2, 3), ()), (2, 3)),  # OBS-197
    (((0,), (1,)), (0,)),  # OBS-191-like empty dims
    (((),), ()),
])
def test_broadcast_shapes_observed(shapes, want):
    got = rules.broadcast_shapes(*shapes)
    assert (is_error(got, want) if isinstance(want, str) else got == want)


# --- DTYPE-PROMOTE ----------------------------------------------------------------------------------
PROMOTE_TABLE = {  # OBS-233 .. OBS-238: (input dtype, target dtype), both of shape (2,)
    "float16": dict(float16="float16", bfloat16="float32", float32="float32", float64="float64", int64="float16",
                    int32="float16"),
    "bfloat16": dict(float16="float32", bfloat16="bfloat16", float32="float32", float64="float64", int64="bfloat16",
                     int32="bfloat16"),
    "float32": dict(float16="float32", bfloat16="float32", float32="float32", float64="float64", int64="float32",
                    int32="float32"),
    "float64": dict(float16="float64", bfloat16="float64", float32="float64", float64="float64", int64="float64",
                    int32="float64"),
    "int64": dict(float16="float32", bfloat16="float32", float32="float32", float64="float64", int64="float32",
                  int32="float32"),
    "int32": dict(float16="float32", bfloat16="float32", float32="float32", float64="float64", int64="float32",
                  int32="float32"),
}


# an integer Poisson input with a half-precision target: see test_poisson_integer_input_goes_through_float32
INT_INPUT_HALF_TARGET = [(a, b) for a in ("int64", "int32") for b in ("float16", "bfloat16")]


@pytest.mark.parametrize("a,b", [(a, b) for a in PROMOTE_TABLE for b in PROMOTE_TABLE[a]
                                 if (a, b) not in INT_INPUT_HALF_TARGET])
def test_result_dtype_table(a, b):
    assert rules.result_dtype([(a, 1), (b, 1)]) == PROMOTE_TABLE[a][b]
    assert rules.result_dtype([(b, 1), (a, 1)]) == PROMOTE_TABLE[a][b]


@pytest.mark.parametrize("a,b", INT_INPUT_HALF_TARGET)
def test_poisson_integer_input_goes_through_float32(a, b):
    t = np.array([0.0, 3.0]).astype(ml_dtypes.bfloat16 if b == "bfloat16" else b)
    exp = engine.expect(engine.Call("poisson", "functional", {"input": np.array([1, 2], dtype=a), "target": t},
                              kwargs=dict(reduction="none")))
    assert exp.output.dtype == PROMOTE_TABLE[a][b] == "float32"


@pytest.mark.parametrize("operands,want", [
    ([("float32", 1), ("float64", 0)], "float32"),  # OBS-248: a 0-d operand of the same category
    ([("float64", 0), ("float32", 1)], "float32"),  # OBS-249
    ([("float64", 0), ("float32", 0)], "float64"),  # OBS-250: all 0-d
    ([("float16", 1), ("float64", 0)], "float16"),  # OBS-251
    ([("float32", 1), ("float64", 1)], "float64"),  # OBS-252: a 1-element (1,) operand is dimensioned
    ([("float16", 1), ("int64", 1)], "float16"),  # OBS-247
    ([("int64", 1), ("float64", 0)], "float64"),  # a 0-d operand of a higher category decides
    ([("int64", 1), ("int32", 1)], "float32"),  # integral results become the default float
    ([("float16", 1), ("bfloat16", 1)], "float32"),
    ([("float16", 1), ("bfloat16", 0)], "float16"),
    ([("float32", 1), ("float32", 1), ("float64", 1)], "float64"),  # OBS-254
    ([("float16", 1), ("float16", 1), ("float32", 1)], "float32"),  # OBS-259
    ([("float32", 1), ("float64", 0), ("float32", 1)], "float32"),  # OBS-265
])
def test_result_dtype_pairs(operands, want):
    assert rules.result_dtype(operands) == want


@pytest.mark.parametrize("a,b", [("float32", "float64"), ("float16", "bfloat16"), ("int64", "int32"),
                                 ("float16", "int64"), ("bfloat16", "int32"), ("int64", "float64")])
def test_result_dtype_through_expect(a, b):
    def arr(d):
        return np.array([1.0, 2.0]).astype(ml_dtypes.bfloat16 if d == "bfloat16" else d)
    exp = engine.expect(engine.Call("poisson", "functional", {"input": arr(a), "target": arr(b)}, kwargs=dict(reduction="none")))
    assert exp.output.dtype == PROMOTE_TABLE[a][b]


@pytest.mark.parametrize("x,y,v,want", [
    (np.float16, np.float16, 2.0, "float16"),  # OBS-256: a Python float var takes input's dtype
    (np.int64, np.int64, 2.0, "float32"),  # OBS-260
    (np.float32, np.float32, np.array(2.0), "float64"),  # OBS-264: 0-d var unsqueezed to (1,) is dimensioned
])
def test_gaussian_var_dtype_cases(x, y, v, want):
    exp = engine.expect(engine.Call("gaussian", "functional", {"input": np.array([1.0, 2.0]).astype(x),
                                                         "target": np.array([0.0, 5.0]).astype(y), "var": v},
                              kwargs=dict(reduction="none")))
    assert exp.error is None and exp.output.dtype == want


# --- errors and their order, through expect --------------------------------------------------------
X2, Y2 = np.array([1.0, 2.0]), np.array([0.0, 5.0])


@pytest.mark.parametrize("kwargs,type_", [
    (dict(log_input=0), "TypeError"),  # OBS-030
    (dict(full=1), "TypeError"),  # OBS-031
    (dict(log_input=None), "TypeError"),  # OBS-032
    (dict(eps=0), None),  # OBS-033: an int eps is fine
])
def test_poisson_bool_arguments(kwargs, type_):
    exp = engine.expect(engine.Call("poisson", "functional", {"input": np.array([0.5]), "target": np.array([2.0])},
                              kwargs=dict(reduction="none", **kwargs)))
    assert (exp.error.type if exp.error else None) == type_


@pytest.mark.parametrize("ops,kwargs,type_,message", [
    (dict(input=np.zeros((2, 3)), target=np.zeros((4, 3))), {}, "RuntimeError", None),  # OBS-037 (Poisson)
    (dict(input=X2, target=Y2, var=2), {}, "TypeError", None),  # OBS-155: int var
    (dict(input=X2, target=Y2, var=True), {}, "TypeError", None),  # OBS-156: bool var
    (dict(input=X2, target=Y2, var=-1.0), {}, "ValueError", "var has negative entry/entries"),  # OBS-157
    (dict(input=X2, target=Y2, var=np.array([1.0, -1e-300])), {}, "ValueError",
     "var has negative entry/entries"),  # OBS-160
    (dict(input=np.zeros((2, 3)), target=np.ones((2, 3)), var=np.array(2.0)), {}, "ValueError",
     "var is of incorrect size"),  # OBS-164
    (dict(input=np.ones((2, 3)), target=np.zeros((4, 3)), var=np.ones((2, 3))), {}, "RuntimeError", None),  # OBS-198
    (dict(input=np.ones((1, 3)), target=np.zeros((2, 3)), var=np.ones((2, 3))), {}, "ValueError",
     "var is of incorrect size"),  # OBS-202
    # check order (OBS-204 .. OBS-208): negativity, then var size, then reduction, then broadcasting
    (dict(input=np.zeros((2, 3)), target=np.zeros((2, 3)), var=np.array([-1.0, 1, 1, 1, 1])),
     dict(reduction="bogus"), "ValueError", "var has negative entry/entries"),
    (dict(input=np.zeros((2, 3)), target=np.zeros((2, 3)), var=np.ones(5)), dict(reduction="bogus"), "ValueError",
     "var is of incorrect size"),
    (dict(input=np.zeros((2, 3)), target=np.zeros((2, 3)), var=-1.0), dict(reduction="bogus"), "ValueError",
     "var has negative entry/entries"),
    (dict(input=np.zeros((2, 3)), target=np.zeros((2, 3)), var=np.ones((2, 3))), dict(reduction="bogus"),
     "ValueError", "bogus is not valid"),
    (dict(input=np.zeros((2, 3)), target=np.zeros((4, 3)), var=np.ones((2, 3))), dict(reduction="bogus"),
     "ValueError", "bogus is not valid"),
])
def test_errors_through_expect(ops, kwargs, type_, message):
    loss = "gaussian" if "var" in ops else "poisson"
    exp = engine.expect(engine.Call(loss, "functional", ops, kwargs=kwargs))
    assert exp.error is not None and exp.error.type == type_, exp.error
    if message is not None:
        assert exp.error.message == message


def test_nonnegative_var_edge_values_pass():
    # OBS-158 / OBS-161 / OBS-162: -0.0 and NaN are not negative
    for v in (-0.0, float("nan"), np.array([-0.0, 1.0]), np.array([np.nan, 1.0])):
        exp = engine.expect(engine.Call("gaussian", "functional", {"input": X2, "target": Y2, "var": v},
                                  kwargs=dict(reduction="none")))
        assert exp.error is None


@pytest.mark.parametrize("xy_dtype", [np.int64, np.float32])
def test_integer_var_tensor_is_an_error(xy_dtype):
    # DTYPE-INT-VAR (OBS-262, OBS-263)
    exp = engine.expect(engine.Call("gaussian", "functional", {"input": np.array([1, 2]).astype(xy_dtype),
                                                         "target": np.array([0, 5]).astype(xy_dtype),
                                                         "var": np.array([1, 2], dtype=np.int64)},
                              kwargs=dict(reduction="none")))
    assert exp.error is not None and exp.error.type == "RuntimeError"


def test_bool_poisson_operands_are_an_error():
    # DTYPE-BOOL (OBS-253)
    exp = engine.expect(engine.Call("poisson", "functional", {"input": np.array([True, False]),
                                                        "target": np.array([True, True])}, kwargs=dict(reduction="none")))
    assert exp.error is not None and exp.error.type == "RuntimeError"


def test_signature_combinations_bind_like_python():
    # every prefix of positionals of the Poisson functional binds in order
    names = ["log_input", "full", "size_average", "eps", "reduce", "reduction"]
    vals = [False, True, 0, 0.25, False, "sum"]
    for k in range(len(names) + 1):
        b = rules.bind("poisson", "functional", tuple(vals[:k]), {})
        assert [b[n] for n in names[:k]] == vals[:k]
    for a, b_ in itertools.combinations(names, 2):
        assert not is_error(rules.bind("poisson", "module", (), {a: None, b_: None}))


def test_poisson_reduction_error_comes_before_bool_argument_error():
    # ERR-ORDER: LEGACY-MAP, then RED-VALID, before the check of log_input / full
    exp = engine.expect(engine.Call("poisson", "functional", {"input": np.array([0.5]), "target": np.array([2.0])},
                              kwargs=dict(log_input=0, reduction="bogus")))
    assert (exp.error.type, exp.error.message) == ("ValueError", "bogus is not a valid value for reduction")
    # and with a valid reduction the bool check fires (OBS-030)
    exp = engine.expect(engine.Call("poisson", "functional", {"input": np.array([0.5]), "target": np.array([2.0])},
                              kwargs=dict(log_input=0, reduction="none")))
    assert exp.error.type == "TypeError"


def test_python_float_var_has_no_gradient():
    exp = engine.expect(engine.Call("gaussian", "functional", {"input": X2, "target": Y2, "var": 2.0},
                              kwargs=dict(reduction="sum"), grad_wrt=("input", "var")))
    assert "input" in exp.grads
    assert "var" not in exp.grads
