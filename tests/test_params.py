"""utils.params: bad values stop with a message naming the parameter and what it accepts."""

import math

import pytest

from utils.params import Boolean, Integer, OneOf, ParameterError, Real, validate


def test_good_values_pass_through():
    params = validate(seed=Integer(3, min=0), lr=Real(1e-3, min=0.0), mode=OneOf("a", ["a", "b"]),
                      verbose=Boolean(True))
    assert (params.seed, params.lr, params.mode, params.verbose) == (3, 1e-3, "a", True)
    assert params.as_dict() == {"seed": 3, "lr": 1e-3, "mode": "a", "verbose": True}


@pytest.mark.parametrize(
    "spec, expected",
    [
        (Integer(-1, min=0), "parameter 'p' must be an integer >= 0; got -1"),
        (Integer(2.5, min=0), "parameter 'p' must be an integer >= 0; got 2.5"),
        (Integer(True), "parameter 'p' must be an integer; got True"),
        (Integer(11, min=1, max=10), "parameter 'p' must be an integer between 1 and 10; got 11"),
        (Real("0.1", max=1.0), "parameter 'p' must be a number <= 1.0; got '0.1'"),
        (Real(math.nan), "parameter 'p' must be a number; got nan"),
        (OneOf("gpu", ["cpu", "cuda"]), "parameter 'p' must be one of 'cpu', 'cuda'; got 'gpu'"),
        (Boolean("yes"), "parameter 'p' must be True or False; got 'yes'"),
    ],
)
def test_bad_values_name_parameter_and_allowed_values(spec, expected):
    with pytest.raises(ParameterError) as error:
        validate(p=spec)
    assert str(error.value) == expected


def test_first_bad_parameter_is_reported():
    with pytest.raises(ParameterError, match="'b'"):
        validate(a=Integer(1), b=Integer("x"), c=Integer("y"))


def test_params_are_read_only():
    params = validate(seed=Integer(1))
    with pytest.raises(AttributeError, match="read-only"):
        params.seed = 2
    with pytest.raises(AttributeError, match="no parameter named 'lr'"):
        _ = params.lr


def test_numpy_numbers_are_accepted_as_plain_ones():
    import numpy as np

    params = validate(n=Integer(np.int64(3), min=0), x=Real(np.float32(0.5), max=1.0))
    assert params.as_dict() == {"n": 3, "x": 0.5}
    assert type(params.n) is int and type(params.x) is float
    with pytest.raises(ParameterError, match="must be an integer"):
        validate(n=Integer(np.float64(3.0)))


@pytest.mark.parametrize("spec, expected", [
    (Real(1.0, min=0.0, max=1.0, exclusive_max=True),
     "parameter 'p' must be a number >= 0.0 and < 1.0; got 1.0"),
    (Real(0.0, min=0.0, exclusive_min=True), "parameter 'p' must be a number > 0.0; got 0.0"),
])
def test_exclusive_bounds(spec, expected):
    with pytest.raises(ParameterError) as error:
        validate(p=spec)
    assert str(error.value) == expected
    edge = Real(0.5, min=0.0, max=1.0, exclusive_min=True, exclusive_max=True)
    assert validate(p=edge).p == 0.5
