"""summarize() and paired() against independent references on fixed data (scipy, enumeration, hand arithmetic)."""

from __future__ import annotations

import itertools
import math
import pickle
import sys

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from openstackai_nb.comparison.intervals import (
    RunningMean,
    bootstrap_interval,
    pass_at_k,
    sign_flip_p_value,
    t_interval,
    t_quantile,
)
from openstackai_nb.comparison.stats import PAIRED_FIELDS, SUMMARY_COLUMNS, paired, summarize
from openstackai_nb.errors import ConfigError


def _frame(
    rows: list[tuple], columns: tuple[str, ...] = ("agent", "case_id", "repeat", "status", "score")
) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(columns))


# -- the t quantile ---------------------------------------------------------------------------------


def test_t_quantile_matches_scipy_for_df_1_to_1000() -> None:
    for df in range(1, 1001):
        for p in (0.975, 0.995, 0.6, 0.005):
            assert t_quantile(p, df) == pytest.approx(sps.t.ppf(p, df), rel=1e-11), (p, df)


@pytest.mark.parametrize("df", [1, 2, 3, 4, 7.5, 30, 250, 5_000, 99_999, 200_000, 1e9])
@pytest.mark.parametrize("p", [1e-12, 1e-6, 0.001, 0.05, 0.3, 0.75, 0.9, 0.9999])
def test_t_quantile_matches_scipy_across_the_range(df: float, p: float) -> None:
    assert t_quantile(p, df) == pytest.approx(sps.t.ppf(p, df), rel=1e-11)


def test_t_quantile_near_the_centre_against_closed_forms() -> None:
    # scipy itself loses digits at p = 0.5 + 1e-4; the closed forms of the CDF for df 1, 2, 4 do not.
    cdf = {
        1: lambda t: 0.5 + math.atan(t) / math.pi,
        2: lambda t: 0.5 + t / (2 * math.sqrt(2 + t * t)),
        4: lambda t: 0.5 + 3 / 8 * t / math.sqrt(1 + t * t / 4) * (1 - t * t / (12 * (1 + t * t / 4))),
    }
    for df, f in cdf.items():
        for p in (0.5001, 0.5 + 1e-8, 0.51, 0.7, 0.95):
            assert f(t_quantile(p, df)) - 0.5 == pytest.approx(p - 0.5, rel=1e-9), (df, p)
            assert t_quantile(1 - p, df) == -t_quantile(p, df)
    assert t_quantile(0.5, 3) == 0.0


def test_t_quantile_rejects_nonsense() -> None:
    for p, df in ((0.0, 3), (1.0, 3), (float("nan"), 3), (0.9, 0), (0.9, -1)):
        with pytest.raises(ValueError):
            t_quantile(p, df)


def test_t_interval_matches_scipy() -> None:
    x = np.array([0.2, 0.9, 0.4, 0.7, 0.65, 0.1, 1.0, 0.55])
    mean, std, stderr, low, high = t_interval(x, 0.9)
    ref_low, ref_high = sps.t.interval(0.9, len(x) - 1, loc=x.mean(), scale=sps.sem(x))
    assert (mean, std, stderr) == pytest.approx((x.mean(), x.std(ddof=1), sps.sem(x)), rel=1e-12)
    assert (low, high) == pytest.approx((ref_low, ref_high), rel=1e-11)
    assert math.isnan(t_interval([3.0])[1]) and all(math.isnan(v) for v in t_interval([]))


def test_running_mean_matches_the_batch_interval() -> None:
    x = [0.2, 0.9, 0.4, 0.7, 0.65, 0.1, 1.0, 0.55]
    m = RunningMean()
    assert math.isnan(m.half_width())
    for v in [*x, float("nan")]:
        m.add(v)
    mean, _, _, low, high = t_interval(x)
    assert m.n == len(x) and m.mean == pytest.approx(mean) and m.half_width() == pytest.approx((high - low) / 2)


# -- summarize ----------------------------------------------------------------------------------------


def test_summary_without_repeats_is_the_plain_t_interval() -> None:
    a = [0.5, 0.75, 1.0, 0.25, 0.5, 0.9]
    b = [0.1, 0.3, 0.2]
    df = _frame([("A", f"c{i}", 0, "COMPLETED", v) for i, v in enumerate(a)]
                + [("B", f"c{i}", 0, "COMPLETED", v) for i, v in enumerate(b)])  # fmt: skip
    s = summarize(df)
    assert list(s.columns) == list(SUMMARY_COLUMNS) and list(s.index) == ["A", "B"] and s.index.name == "agent"
    for name, x in (("A", np.array(a)), ("B", np.array(b))):
        row = s.loc[name]
        low, high = sps.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=sps.sem(x))
        assert row["n"] == row["runs"] == len(x)
        assert row["mean"] == pytest.approx(x.mean()) and row["std"] == pytest.approx(x.std(ddof=1))
        assert row["stderr"] == pytest.approx(sps.sem(x))
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((low, high), rel=1e-10)
        assert row["failures"] == row["unscored"] == 0


def test_repeats_are_averaged_per_case_first() -> None:
    # Case c0 has 4 scored runs of 1.0, c1 one run of 0.0 (its others failed), c2 two runs 0 and 1.
    # Per run: mean 5/7. Per case: means 1, 0, 0.5 -> mean 0.5 over n = 3 cases.
    rows = [("A", "c0", r, "COMPLETED", 1.0) for r in range(4)]
    rows += [("A", "c1", 0, "COMPLETED", 0.0), ("A", "c1", 1, "FAILED", None), ("A", "c1", 2, "CANCELLED", None)]
    rows += [("A", "c2", 0, "COMPLETED", 0.0), ("A", "c2", 1, "COMPLETED", 1.0)]
    s = summarize(_frame(rows))
    row = s.loc["A"]
    case_means = np.array([1.0, 0.0, 0.5])
    assert row["n"] == 3 and row["runs"] == 7 and row["failures"] == 2
    assert row["mean"] == pytest.approx(0.5) and row["mean"] != pytest.approx(5 / 7)
    assert row["std"] == pytest.approx(case_means.std(ddof=1))
    low, high = sps.t.interval(0.95, 2, loc=0.5, scale=sps.sem(case_means))
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((low, high))


def test_pass_at_k_against_hand_computed_values() -> None:
    # Five repeats per case. c0: 2 of 5 pass, c1: 0 of 5, c2: 5 of 5.
    #   pass@1 = c/n:             c0 2/5 = 0.4, c1 0, c2 1          -> mean 1.4/3
    #   pass@2 = 1 - C(n-c,2)/C(n,2): c0 1 - C(3,2)/C(5,2) = 1 - 3/10 = 0.7, c1 1 - 10/10 = 0, c2 1 -> 1.7/3
    #   pass@5: c0 1 - C(3,5)/C(5,5) = 1 - 0/1 = 1, c1 0, c2 1     -> 2/3
    #   pass@6: more than the 5 runs of every case                 -> NaN, with a note
    outcomes = {"c0": [1, 0, 1, 0, 0], "c1": [0] * 5, "c2": [1] * 5}
    rows = [("A", c, r, "COMPLETED", bool(v)) for c, vs in outcomes.items() for r, v in enumerate(vs)]
    s = summarize(_frame(rows), ks=(1, 2, 5, 6))
    row = s.loc["A"]
    assert row["pass@1"] == pytest.approx(1.4 / 3) and row["pass@2"] == pytest.approx(1.7 / 3)
    assert row["pass@5"] == pytest.approx(2 / 3) and math.isnan(row["pass@6"])
    assert any("pass@6" in n for n in s.attrs["notes"]) and "pass@6" in repr(s)
    assert row["mean"] == pytest.approx(row["pass@1"])  # a bool metric is a rate
    assert pass_at_k(5, 2, 2) == pytest.approx(0.7) and pass_at_k(3, 1, 4) != pass_at_k(3, 1, 4)


def test_pass_at_k_threshold_and_cases_with_too_few_runs() -> None:
    # Graded scores: pass when >= 0.8. c0: 0.9, 0.5, 0.85 (2 of 3 pass); c1: 0.7 and a failed run (1 scored run).
    rows = [("A", "c0", 0, "COMPLETED", 0.9), ("A", "c0", 1, "COMPLETED", 0.5), ("A", "c0", 2, "COMPLETED", 0.85)]
    rows += [("A", "c1", 0, "COMPLETED", 0.7), ("A", "c1", 1, "FAILED", None)]
    s = summarize(_frame(rows), ks=(1, 2), threshold=0.8)
    # pass@1: c0 2/3, c1 0/1 -> 1/3. pass@2: c1 has 1 run < 2, left out; c0 1 - C(1,2)/C(3,2) = 1 -> 1.
    assert s.loc["A", "pass@1"] == pytest.approx(1 / 3) and s.loc["A", "pass@2"] == pytest.approx(1.0)
    assert any("leaves out 1 case" in n for n in s.attrs["notes"])
    no_threshold = summarize(_frame(rows), ks=(1,))
    assert no_threshold.loc["A", "pass@1"] == 1.0  # every non-zero score passes
    assert any("threshold=" in n for n in no_threshold.attrs["notes"])


def test_failures_unscored_cost_and_latency() -> None:
    df = pd.DataFrame(
        {
            "agent": ["A"] * 5,
            "case_id": ["c0", "c1", "c2", "c3", "c4"],
            "status": ["COMPLETED", "COMPLETED", "FAILED", "COMPLETED", "CANCELLED"],
            "score": [1.0, float("nan"), float("nan"), 0.0, float("nan")],
            "cost_usd": [0.01, 0.02, 0.005, float("nan"), float("nan")],
            "elapsed_time": [1.0, 2.0, 3.0, 4.0, 10.0],
        }
    )
    row = summarize(df).loc["A"]
    assert (row["n"], row["runs"], row["failures"], row["unscored"]) == (2, 2, 2, 1)
    assert row["cost_total"] == pytest.approx(0.035) and row["cost_mean"] == pytest.approx(0.035 / 3)
    assert row["latency_p50"] == pytest.approx(np.quantile([1, 2, 3, 4, 10], 0.5))
    assert row["latency_p95"] == pytest.approx(np.quantile([1, 2, 3, 4, 10], 0.95))
    assert math.isnan(summarize(df.assign(cost_usd=float("nan"))).loc["A", "cost_total"])


def test_bool_metric_is_a_rate_and_nan_marks_no_score() -> None:
    df = _frame([("A", f"c{i}", 0, "COMPLETED", v) for i, v in enumerate([True, False, True, True, None])])
    row = summarize(df).loc["A"]
    assert row["mean"] == pytest.approx(0.75) and row["n"] == 4 and row["unscored"] == 1


def test_bootstrap_is_reproducible_from_its_seed_and_close_to_t_on_normal_data() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(0.6, 0.2, size=400)
    df = _frame([("A", f"c{i}", 0, "COMPLETED", v) for i, v in enumerate(x)])
    one = summarize(df, method="bootstrap", seed=1, n_boot=4000)
    same = summarize(df, method="bootstrap", seed=1, n_boot=4000)
    other = summarize(df, method="bootstrap", seed=2, n_boot=4000)
    t = summarize(df)
    pd.testing.assert_frame_equal(one, same)
    assert one.loc["A", "ci_low"] != other.loc["A", "ci_low"]
    width = t.loc["A", "ci_high"] - t.loc["A", "ci_low"]
    for end in ("ci_low", "ci_high"):
        assert one.loc["A", end] == pytest.approx(t.loc["A", end], abs=0.1 * width)
    assert one.attrs["method"] == "bootstrap" and one.attrs["seed"] == 1 and "4000 resamples" in repr(one)
    assert bootstrap_interval(x, seed=3) == bootstrap_interval(x, seed=3)


def test_bootstrap_of_a_group_does_not_depend_on_the_other_groups() -> None:
    x = [0.1, 0.5, 0.9, 0.4, 0.3, 0.8]
    rows = [("A", f"c{i}", 0, "COMPLETED", v) for i, v in enumerate(x)]
    alone = summarize(_frame(rows), method="bootstrap")
    with_b = summarize(_frame(rows + [("B", "c0", 0, "COMPLETED", 1.0)] * 3), method="bootstrap")
    assert alone.loc["A", "ci_low"] == with_b.loc["A", "ci_low"]


def test_by_a_list_of_columns() -> None:
    df = pd.DataFrame(
        {"agent": ["A", "A", "B", "B"], "model": ["m1", "m2", "m1", "m1"], "case_id": ["c0", "c0", "c0", "c1"],
         "status": ["COMPLETED"] * 4, "score": [1.0, 0.0, 0.5, 0.25]}
    )  # fmt: skip
    s = summarize(df, by=["agent", "model"])
    assert list(s.index) == [("A", "m1"), ("A", "m2"), ("B", "m1")] and s.index.names == ["agent", "model"]
    assert s.loc[("B", "m1"), "mean"] == pytest.approx(0.375)


def test_results_say_how_they_were_computed() -> None:
    df = _frame([("A", f"c{i}", 0, "COMPLETED", v) for i, v in enumerate([0.1, 0.4, 0.9])])
    s = summarize(df, confidence=0.9, seed=5)
    assert {k: s.attrs[k] for k in ("method", "seed", "confidence", "metric")} == {
        "method": "t", "seed": 5, "confidence": 0.9, "metric": "score",
    }  # fmt: skip
    text = repr(s)
    assert "90% CI" in text and "Student-t" in text and "seed 5" in text
    assert "seed 5" in repr(s.sort_values("mean"))  # derived frames keep the caption
    back = pickle.loads(pickle.dumps(s))
    assert type(back) is type(s) and back.attrs["seed"] == 5


def test_summarize_errors_name_the_problem() -> None:
    df = _frame([("A", "c0", 0, "COMPLETED", 1.0)])
    with pytest.raises(ConfigError, match="no column 'accuracy'.*columns are"):
        summarize(df, "accuracy")
    with pytest.raises(ConfigError, match="no column 'model'"):
        summarize(df, by=["agent", "model"])
    with pytest.raises(ConfigError, match="method must be 't' or 'bootstrap', got 'z'"):
        summarize(df, method="z")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="confidence"):
        summarize(df, confidence=95)
    with pytest.raises(ConfigError, match="ks must be whole numbers >= 1, got 0"):
        summarize(df, ks=(1, 0))
    with pytest.raises(ConfigError, match="must be a pandas DataFrame"):
        summarize([1, 2])  # type: ignore[arg-type]
    bad = _frame([("A", "c0", 0, "COMPLETED", 1.0), ("A", "c1", 0, "COMPLETED", "yes")])
    with pytest.raises(ConfigError, match=r"metric 'score' must hold numbers or bools; row 1 has str 'yes'"):
        summarize(bad)


# -- paired -------------------------------------------------------------------------------------------


def _pairs(a: list[float], b: list[float]) -> pd.DataFrame:
    rows = [("A", f"c{i}", 0, "COMPLETED", v) for i, v in enumerate(a)]
    return _frame(rows + [("B", f"c{i}", 0, "COMPLETED", v) for i, v in enumerate(b)])


A = [0.9, 0.7, 0.8, 0.6, 1.0, 0.4, 0.75, 0.9, 0.3, 0.85, 0.95, 0.5]
B = [0.6, 0.7, 0.5, 0.65, 0.8, 0.2, 0.5, 0.9, 0.35, 0.6, 0.7, 0.55]


def test_exact_p_value_matches_brute_force_enumeration_and_scipy() -> None:
    d = np.array(A) - np.array(B)
    observed = abs(d.mean())
    extreme = sum(
        abs(np.mean([s * x for s, x in zip(signs, d, strict=True)])) >= observed - 1e-12
        for signs in itertools.product((1, -1), repeat=len(d))
    )
    brute = extreme / 2 ** len(d)
    result = paired(_pairs(A, B), "A", "B")
    assert result["p_value"] == pytest.approx(brute, rel=1e-12)
    ref = sps.permutation_test(
        (np.array(A), np.array(B)), lambda x, y, axis: np.mean(x - y, axis=axis),
        permutation_type="samples", n_resamples=np.inf, alternative="two-sided", vectorized=True,
    )  # fmt: skip
    assert result["p_value"] == pytest.approx(ref.pvalue, rel=1e-9)
    assert "exact" in result["method"] and "2^12" in result["method"]


def test_paired_statistics_on_fixed_data() -> None:
    result = paired(_pairs(A, B), "A", "B", seed=3)
    d = np.array(A) - np.array(B)
    assert list(result.index[: len(PAIRED_FIELDS)]) == list(PAIRED_FIELDS) and result.name == "A vs B"
    assert result["n"] == 12 and result["mean_diff"] == pytest.approx(d.mean())
    # A - B: .3 0 .3 -.05 .2 .2 .25 0 -.05 .25 .25 -.05 -> 7 wins, 2 ties, 3 losses
    assert (result["wins"], result["ties"], result["losses"]) == (7, 2, 3) and result["dropped"] == []
    assert result["ci_low"] < d.mean() < result["ci_high"]
    assert (result["ci_low"], result["ci_high"]) == bootstrap_interval(d, seed=3)
    assert result["seed"] == 3 and result.attrs["seed"] == 3 and "seed 3" in repr(result)
    again = paired(_pairs(A, B), "A", "B", seed=3)
    assert again["ci_low"] == result["ci_low"] and paired(_pairs(A, B), "A", "B", seed=4)["ci_low"] != result["ci_low"]
    flipped = paired(_pairs(A, B), "B", "A", seed=3)
    assert flipped["mean_diff"] == pytest.approx(-d.mean()) and flipped["p_value"] == result["p_value"]


def test_random_sign_flips_above_16_cases() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(0.55, 0.2, 40)
    b = a - rng.normal(0.05, 0.2, 40)
    result = paired(_pairs(list(a), list(b)), "A", "B", n_perm=2000, seed=9)
    p = result["p_value"]
    count = round(p * 2001) - 1
    assert p == pytest.approx((count + 1) / 2001) and 0 <= count <= 2000
    assert "(count + 1) / (2000 + 1)" in result["method"]
    assert paired(_pairs(list(a), list(b)), "A", "B", n_perm=2000, seed=9)["p_value"] == p
    ref = sps.permutation_test(
        (a, b), lambda x, y, axis: np.mean(x - y, axis=axis), permutation_type="samples",
        n_resamples=20_000, alternative="two-sided", vectorized=True, rng=np.random.default_rng(1),
    )  # fmt: skip
    assert p == pytest.approx(ref.pvalue, abs=0.03)
    assert sign_flip_p_value([0.0] * 20, n_perm=50)[0] == 1.0  # every flip ties the observed 0


def test_paired_averages_repeats_and_lists_dropped_cases() -> None:
    rows = [
        ("A", "c0", 0, "COMPLETED", 1.0), ("A", "c0", 1, "COMPLETED", 0.0),  # A c0: 0.5
        ("B", "c0", 0, "COMPLETED", 0.25), ("B", "c0", 1, "COMPLETED", 0.25),  # B c0: 0.25
        ("A", "c1", 0, "COMPLETED", 1.0), ("B", "c1", 0, "FAILED", None), ("B", "c1", 1, "FAILED", None),
        ("A", "c2", 0, "COMPLETED", float("nan")), ("B", "c2", 0, "COMPLETED", 1.0),  # A's scorer raised
        ("A", "c3", 0, "COMPLETED", 0.0), ("B", "c3", 0, "COMPLETED", 1.0), ("B", "c3", 1, "COMPLETED", 0.0),
    ]  # fmt: skip
    result = paired(_frame(rows), "A", "B")
    assert result["dropped"] == ["c1", "c2"] and result["n"] == 2
    assert result["mean_diff"] == pytest.approx(((0.5 - 0.25) + (0.0 - 0.5)) / 2)
    assert (result["wins"], result["ties"], result["losses"]) == (1, 0, 1)
    assert "2 case(s) dropped" in repr(result)


def test_paired_with_every_case_dropped_is_nan_not_an_error() -> None:
    rows = [("A", "c0", 0, "COMPLETED", 1.0), ("B", "c0", 0, "FAILED", None)]
    result = paired(_frame(rows), "A", "B")
    assert result["n"] == 0 and result["dropped"] == ["c0"]
    assert all(math.isnan(result[k]) for k in ("mean_diff", "ci_low", "ci_high", "p_value"))


def test_paired_errors_list_the_agents_present() -> None:
    df = _pairs(A, B)
    with pytest.raises(ConfigError, match=r"agent 'C' is not in the table; its agents are \['A', 'B'\]"):
        paired(df, "A", "C")
    with pytest.raises(ConfigError, match="two different agents"):
        paired(df, "A", "A")
    with pytest.raises(ConfigError, match="n_perm must be a whole number >= 1"):
        paired(df, "A", "B", n_perm=0)


def test_top_level_names() -> None:
    import openstackai_nb
    from openstackai_nb import comparison

    for name in ("summarize", "paired", "plot_summary"):
        assert getattr(openstackai_nb, name) is getattr(comparison, name)
        assert name in openstackai_nb.__all__ and name in comparison.__all__


def test_plot_summary_draws_means_and_intervals() -> None:
    from matplotlib.figure import Figure

    from openstackai_nb.comparison import plot_summary

    df = _pairs(A, B)
    s = summarize(df)
    ax = plot_summary(s, ax=Figure().subplots())
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["A", "B"] and "score" in ax.get_xlabel() and "95% CI" in ax.get_xlabel()
    line = ax.lines[0]
    assert list(line.get_xdata()) == pytest.approx(list(s["mean"]))
    segments = ax.collections[0].get_segments()  # the error bars, one per group
    ends = np.array([seg[:, 0] for seg in segments])
    np.testing.assert_allclose(ends, s[["ci_low", "ci_high"]].to_numpy())
    with pytest.raises(ConfigError, match="no column 'mean'"):
        plot_summary(df, ax=Figure().subplots())


def test_plot_summary_names_the_extra_when_matplotlib_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    from openstackai_nb.comparison import plot_summary

    s = summarize(_pairs(A, B))
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)  # what an environment without it does
    with pytest.raises(ImportError, match=r'needs matplotlib: pip install "openstackai-nb\[plot\]"'):
        plot_summary(s)


def test_a_table_without_case_ids_or_repeats_counts_each_run_as_a_case() -> None:
    df = pd.DataFrame({"agent": ["A"] * 4, "score": [1.0, 0.0, 1.0, 1.0]})  # no case_id, repeat, status
    row = summarize(df).loc["A"]
    assert (row["n"], row["runs"], row["mean"]) == (4, 4, 0.75) and "pass@1" not in row
    assert math.isnan(row["cost_total"]) and math.isnan(row["latency_p50"])


def test_a_compare_grid_end_to_end(session_history, capsys: pytest.CaptureFixture[str]) -> None:
    # The offline scripted model is right about 95% of the time for a careful agent, 70% otherwise.
    from openstackai_nb import Agent, compare, scorers

    careful = Agent(name="careful", instructions="Be careful: check your work.", model="scripted")
    quick = Agent(name="quick", instructions="Answer quickly.", model="scripted")
    pairs = [(17, 25), (3, 4), (10, 11), (8, 9), (20, 22), (5, 6), (30, 1), (12, 13)]
    cases = [{"input": f"What is {a} + {b}?", "expected": str(a + b)} for a, b in pairs]
    df = compare([careful, quick], cases, repeats=5, seed=0, score=scorers.exact())
    line = capsys.readouterr().err
    s = summarize(df, ks=(1, 3))
    assert list(s.index) == ["careful", "quick"] and (s["n"] == 8).all() and (s["runs"] == 40).all()
    per_run = df.groupby("agent")["score"].mean()
    assert s["pass@1"].to_numpy() == pytest.approx(per_run.loc[["careful", "quick"]].to_numpy())
    for agent in ("careful", "quick"):  # the live line's running mean is the per-run mean
        assert f"{agent} {per_run[agent]:.2f} ± " in line
    test = paired(df, "careful", "quick")
    case_means = df.pivot_table(index="case_id", columns="agent", values="score", aggfunc="mean")
    assert test["n"] == 8 and test["mean_diff"] == pytest.approx((case_means["careful"] - case_means["quick"]).mean())
