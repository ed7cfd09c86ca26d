import numpy as np
import pytest

from dawn.willump.bounds import (
    betting_pvalue,
    calibrate_threshold,
    calibrate_threshold_mean,
    clopper_pearson_lower,
    clopper_pearson_upper,
    predicted_accept_rate,
)


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


def test_betting_pvalue_is_valid_at_the_null_and_powerful_below_it() -> None:
    # Losses in {-1, 0, 1} with mean exactly at the bound: rejections at level 0.05 stay near or below 5%.
    rng = np.random.default_rng(3)
    rejected = 0
    for _ in range(300):
        u = rng.uniform(size=2000)
        x = np.where(u < 0.05, 1.0, np.where(u < 0.095, -1.0, 0.0))  # mean 0.005
        rejected += betting_pvalue(x, 0.005) <= 0.05
    assert rejected / 300 <= 0.07
    # All-zero losses over 3,000 rows are certified below 0.005; a mean of 0.02 is not.
    assert betting_pvalue(np.zeros(3000), 0.005) < 1e-3
    assert betting_pvalue(np.where(rng.uniform(size=3000) < 0.02, 1.0, 0.0), 0.005) > 0.5


def test_net_loss_calibration_credits_fixes() -> None:
    # The small model breaks 3% of rows and fixes 4%: its net loss is negative, so every row may exit
    # under net_loss, while the accuracy risk (breaks only) allows far fewer.
    rng = np.random.default_rng(4)
    n = 6000
    conf = rng.uniform(0.5, 1.0, size=n)
    u = rng.uniform(size=n)
    loss = np.where(u < 0.03, 1.0, np.where(u < 0.07, -1.0, 0.0))
    net = calibrate_threshold_mean(conf, loss, max_loss=0.005, delta=0.05)
    assert net.accept_rate == 1.0 and net.bound <= 0.005 and net.risk == pytest.approx(loss.mean())
    breaks = calibrate_threshold(conf, loss > 0, max_loss=0.005, delta=0.05)
    assert breaks.accept_rate < 0.3
    # Harmful early answers are refused.
    harmful = calibrate_threshold_mean(conf, np.where(u < 0.05, 1.0, 0.0), max_loss=0.005, delta=0.05)
    assert harmful.accept_rate < 0.2


def test_net_loss_calibration_holds_on_fresh_draws() -> None:
    # Less confident rows break more often than they fix: the certified mean loss at the chosen
    # threshold must hold on a large fresh draw in >= 1 - delta of calibrations.
    rng = np.random.default_rng(6)

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        conf = rng.uniform(0.5, 1.0, size=n)
        u = rng.uniform(size=n)
        p_break, p_fix = 0.9 * (1.0 - conf), 0.4 * (1.0 - conf)
        return conf, np.where(u < p_break, 1.0, np.where(u < p_break + p_fix, -1.0, 0.0))

    held, max_loss = 0, 0.02
    for r in range(40):
        conf, loss = draw(3000)
        cal = calibrate_threshold_mean(conf, loss, max_loss=max_loss, delta=0.1, n_grid=50, seed=r)
        assert 0 < cal.accept_rate < 1
        conf2, loss2 = draw(200_000)
        held += np.mean(np.where(conf2 >= cal.threshold, loss2, 0.0)) <= max_loss
    assert held / 40 >= 0.9


def test_predicted_accept_rate_follows_losses_and_calibration_size() -> None:
    rng = np.random.default_rng(3)
    conf = rng.uniform(0.5, 1.0, 4000)
    # errors concentrate on low-confidence rows, as a useful small model's do
    loss = (rng.uniform(size=4000) < 0.4 * (1.0 - conf)).astype(float)
    kw = dict(max_loss=0.01, delta=0.05)
    assert predicted_accept_rate(conf, np.zeros(4000), n_cal=1000, **kw) == 1.0
    assert predicted_accept_rate(conf, np.ones(4000), n_cal=1000, **kw) < 0.01  # risk = accept rate
    small, large = (predicted_accept_rate(conf, loss, n_cal=n, **kw) for n in (500, 50_000))
    assert 0.0 < small < large < 1.0  # more certification rows, a narrower bound, more rows admitted
    # the prediction tracks what a certification on that many fresh rows admits
    conf2 = rng.uniform(0.5, 1.0, 50_000)
    loss2 = (rng.uniform(size=50_000) < 0.4 * (1.0 - conf2)).astype(float)
    cal = calibrate_threshold(conf2, loss2 > 0, max_loss=0.01, delta=0.05)
    assert abs(cal.accept_rate - large) < 0.1
