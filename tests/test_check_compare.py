"""`check.same_as` and `check.function`: the comparisons behind the write-it-yourself exercises."""

import numpy as np
import pytest
import torch

from aigc_course import check
from aigc_course.check import CheckFailed


def fails(fn, *args, **kwargs) -> str:
    with pytest.raises(CheckFailed) as err:
        fn(*args, **kwargs)
    return str(err.value)


def test_same_as_passes_on_equal_results(capsys):
    check.same_as("x", (torch.ones(3), {"a": 1.0}), (torch.ones(3), {"a": 1.0 + 1e-9}))
    assert "✅ x: matches the reference" in capsys.readouterr().out


@pytest.mark.parametrize("got, says", [
    (torch.ones(2), "expected shape (3,), got shape (2,)"),
    (torch.ones(3, dtype=torch.float64), "expected dtype torch.float32, got dtype torch.float64"),
    (torch.tensor([1.0, 1.5, 1.0]), "1 of 3 values differ; the largest difference is at index [1]: got 1.5, expected 1"),
    ([1.0, 1.0, 1.0], "expected a Tensor of shape (3,) and dtype torch.float32, got a list"),
    (np.ones(3, dtype=np.float64), "expected dtype torch.float32, got dtype float64"),
])
def test_same_as_says_what_differs(got, says):
    assert says in fails(check.same_as, "x", got, torch.ones(3), hint="look here")


def test_same_as_walks_into_tuples_and_dicts():
    assert "x[1]['loss']: 1 of 1 values differ" in fails(
        check.same_as, "x", (1, {"loss": 2.0}), (1, {"loss": 3.0}))
    assert "expected a dict with keys ['a', 'b'], got ['a']" in fails(check.same_as, "x", {"a": 1}, {"a": 1, "b": 2})


def reference(x):
    return torch.softmax(x, dim=-1)


def make_inputs():
    return (torch.arange(6.0).view(2, 3),)


def test_function_passes_the_reference_and_fails_a_wrong_axis_with_a_hint(capsys):
    check.function("softmax", reference, reference, make_inputs)
    assert "same result as the reference" in capsys.readouterr().out
    message = fails(check.function, "softmax", lambda x: torch.softmax(x, dim=0), reference, make_inputs,
                    hint="softmax over the last axis")
    assert "6 of 6 values differ" in message and "Hint: softmax over the last axis" in message


def test_function_gives_both_calls_the_same_random_numbers():
    noisy = lambda x: x + torch.randn_like(x)
    check.function("noisy", noisy, noisy, make_inputs)


def test_function_compares_the_state_after_the_call():
    def step(w):
        w.data += 1.0

    def wrong_step(w):
        w.data += 2.0

    inputs = lambda: (torch.zeros(2),)
    check.function("step", step, step, inputs, after=lambda args: args[0].clone())
    assert "after the call, the state" in fails(check.function, "step", wrong_step, step, inputs,
                                                after=lambda args: args[0].clone())


def test_an_unwritten_stub_only_prints_a_reminder(capsys):
    def stub(x):
        raise NotImplementedError

    check.function("softmax", stub, reference, make_inputs)
    assert "not written yet" in capsys.readouterr().out


def test_exercise_checks_are_reached_through_check_and_unknown_names_raise():
    with pytest.raises(AttributeError, match="no attribute 'no_such_check'"):
        check.no_such_check  # noqa: B018
