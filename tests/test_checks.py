"""The check helpers name what differs: the amounts and log lines a learner's code produced."""

from decimal import Decimal

import pandas as pd
import pytest

from workbook import checks

EXACT = pd.Series({"Home": Decimal("2376.585"), "Toys": Decimal("3886.1")})


@pytest.mark.parametrize("home", [2376.58, 2376.59])
def test_either_neighbour_of_a_half_cent_is_a_right_rounding(home):
    checks.expect_rounded(pd.Series({"Home": home, "Toys": 3886.10}), EXACT, "revenue")


@pytest.mark.parametrize(("home", "says"), [
    (2376.5849999999996, "'Home' is 2376.5849999999996, not a whole number of cents: UNROUNDED"),
    (2376.57, "'Home' is 2,376.57, expected 2,376.58 or 2,376.59 (the exact total is 2376.585): "
              "WRONG"),
])
def test_an_unrounded_or_wrong_amount_gets_its_own_hint(home, says):
    with pytest.raises(checks.CheckFailed) as failed:
        checks.expect_rounded(pd.Series({"Home": home, "Toys": 3886.10}), EXACT, "revenue",
                              unrounded="UNROUNDED", wrong="WRONG")
    assert says in str(failed.value)


def test_a_line_at_the_wrong_level_is_quoted():
    checks.expect_logged(["INFO job: start", "ERROR job: bad input: x"], "ERROR", "bad input")
    with pytest.raises(checks.CheckFailed) as failed:
        checks.expect_logged(["WARNING job: bad input: x"], "ERROR", "bad input", hint="HINT")
    assert str(failed.value) == ("your script logged `WARNING job: bad input: x`; expected "
                                 "'bad input' at ERROR level: HINT")
    with pytest.raises(checks.CheckFailed, match="logged nothing about it; expected"):
        checks.expect_logged([], "ERROR", "bad input", when="about it")
