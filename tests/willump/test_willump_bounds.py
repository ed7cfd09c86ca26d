import numpy as np
import pytest

from dawn.willump.bounds import calibrate_threshold, clopper_pearson_lower, clopper_pearson_upper


def test_clopper_pearson_closed_forms() -> None:
    # With no events the upper bound is 1 - delta**(1/n); with all events the lower is delta**(1/n).
    assert clopper_pearson_upper(0, 100, 0.05) == pytest.approx(1 - 0.05 ** (1 / 100))
    assert clopper_pearson_lower(100, 100, 0.05) == pytest.approx(0.05 ** (1 / 100))
    assert clopper_pearson_upper(5, 100, 0.05) > 0.05 > clopper_pearson_lower(5, 100, 0.05)
    assert clopper_pearson_upper(3, 0, 0.05) == 1.0


def test_calibration_respects_bound_and_prefers_confident_rows() -> None:
    rng = np.random.default_rng(1)
    conf = rng.uniform(0.5, 1.0, size=4000)
    errors = rng.uniform(size=4000) < (1.0 - conf)  # less confident rows err more often
    cal = calibrate_threshold(conf, errors, max_loss=0.01, delta=0.05)
    assert 0 < cal.accept_rate < 1
    assert cal.bound <= 0.01
    assert cal.risk <= cal.bound
    accepted = conf >= cal.threshold
    assert np.mean(accepted & errors) == pytest.approx(cal.risk)
    # A looser loss budget can only accept more rows.
    assert calibrate_threshold(conf, errors, max_loss=0.05, delta=0.05).accept_rate > cal.accept_rate


def test_calibration_bound_holds_on_fresh_draws() -> None:
    # The certified risk must hold on new data from the same distribution in >= 1 - delta of draws.
    rng = np.random.default_rng(2)
    max_loss, held = 0.02, 0
    for _ in range(60):
        conf = rng.uniform(0.5, 1.0, size=3000)
        err = rng.uniform(size=3000) < 1.5 * (1.0 - conf)
        cal = calibrate_threshold(conf, err, max_loss=max_loss, delta=0.1)
        conf2 = rng.uniform(0.5, 1.0, size=200_000)
        err2 = rng.uniform(size=200_000) < 1.5 * (1.0 - conf2)
        held += np.mean((conf2 >= cal.threshold) & err2) <= max_loss
    assert held / 60 >= 0.9


def test_no_row_accepted_when_every_answer_is_wrong() -> None:
    cal = calibrate_threshold(np.linspace(0.5, 1, 500), np.ones(500, bool), max_loss=0.005, delta=0.05)
    assert cal.accept_rate == 0 and cal.threshold == float("inf")
