"""The provided argument checks (tinytorch/utils/validation.py): hand-written, never graded."""
import numpy as np
import pytest

from tinytorch.utils.validation import check_bool, check_choice, check_int, check_number, check_path, describe


def test_values_come_back_as_plain_python():
    assert check_int("n", np.int64(3), 0) == 3 and type(check_int("n", 3)) is int
    assert check_number("lr", 1) == 1.0 and check_bool("flag", np.True_) is True


@pytest.mark.parametrize("call, kind, name", [
    (lambda: check_int("n", True), TypeError, "n"),
    (lambda: check_int("n", 2.0), TypeError, "n"),
    (lambda: check_int("n", -1, 0), ValueError, "n"),
    (lambda: check_number("lr", "0.1"), TypeError, "lr"),
    (lambda: check_number("lr", float("nan")), ValueError, "lr"),
    (lambda: check_number("p", 1.5, maximum=1.0), ValueError, "p"),
    (lambda: check_bool("flag", 1), TypeError, "flag"),
    (lambda: check_choice("mode", "max2", ("min", "max")), ValueError, "mode"),
    (lambda: check_path("path", 0), TypeError, "path"),
    (lambda: check_path("path", ""), ValueError, "path"),
    (lambda: check_path("path", ".", file=True), ValueError, "path"),
])
def test_bad_values_name_the_argument(call, kind, name):
    with pytest.raises(kind) as error:
        call()
    assert str(error.value).split()[0] == name


def test_describe_keeps_a_message_to_one_line():
    assert len(describe("x" * 1000)) < 80
