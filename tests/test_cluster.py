"""Tests of clm_utils.cluster: features, choosing k, recovery of known clusters, determinism,
stability, naming, and the factor-analysis machinery (KMO / Bartlett against psych's published
output for mtcars, partial correlations against factor_analyzer's test, varimax)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from clm_utils import cluster as cl
from clm_utils.errors import ModelError, ParameterError
from clm_utils.summary import summarize

# R's datasets::mtcars (Henderson & Velleman 1981), 32 cars x 11 variables.
MTCARS = """mpg,cyl,disp,hp,drat,wt,qsec,vs,am,gear,carb
21,6,160,110,3.9,2.62,16.46,0,1,4,4
21,6,160,110,3.9,2.875,17.02,0,1,4,4
22.8,4,108,93,3.85,2.32,18.61,1,1,4,1
21.4,6,258,110,3.08,3.215,19.44,1,0,3,1
18.7,8,360,175,3.15,3.44,17.02,0,0,3,2
18.1,6,225,105,2.76,3.46,20.22,1,0,3,1
14.3,8,360,245,3.21,3.57,15.84,0,0,3,4
24.4,4,146.7,62,3.69,3.19,20,1,0,4,2
22.8,4,140.8,95,3.92,3.15,22.9,1,0,4,2
19.2,6,167.6,123,3.92,3.44,18.3,1,0,4,4
17.8,6,167.6,123,3.92,3.44,18.9,1,0,4,4
16.4,8,275.8,180,3.07,4.07,17.4,0,0,3,3
17.3,8,275.8,180,3.07,3.73,17.6,0,0,3,3
15.2,8,275.8,180,3.07,3.78,18,0,0,3,3
10.4,8,472,205,2.93,5.25,17.98,0,0,3,4
10.4,8,460,215,3,5.424,17.82,0,0,3,4
14.7,8,440,230,3.23,5.345,17.42,0,0,3,4
32.4,4,78.7,66,4.08,2.2,19.47,1,1,4,1
30.4,4,75.7,52,4.93,1.615,18.52,1,1,4,2
33.9,4,71.1,65,4.22,1.835,19.9,1,1,4,1
21.5,4,120.1,97,3.7,2.465,20.01,1,0,3,1
15.5,8,318,150,2.76,3.52,16.87,0,0,3,2
15.2,8,304,150,3.15,3.435,17.3,0,0,3,2
13.3,8,350,245,3.73,3.84,15.41,0,0,3,4
19.2,8,400,175,3.08,3.845,17.05,0,0,3,2
27.3,4,79,66,4.08,1.935,18.9,1,1,4,1
26,4,120.3,91,4.43,2.14,16.7,0,1,5,2
30.4,4,95.1,113,3.77,1.513,16.9,1,1,5,2
15.8,8,351,264,4.22,3.17,14.5,0,1,5,4
19.7,6,145,175,3.62,2.77,15.5,0,1,5,6
15,8,301,335,3.54,3.57,14.6,0,1,5,8
21.4,4,121,109,4.11,2.78,18.6,1,1,4,2
"""


@pytest.fixture(scope="module")
def mtcars() -> pd.DataFrame:
    return pd.read_csv(io.StringIO(MTCARS))


def _blobs(n_per: int = 300, k: int = 4, p: int = 5, sep: float = 8.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, sep, size=(k, p))
    truth = np.repeat(np.arange(k), n_per)
    X = centers[truth] + rng.normal(size=(k * n_per, p))
    return pd.DataFrame(X, columns=[f"x{i}" for i in range(p)]), truth


# --- KMO and Bartlett against independent references --------------------------------------------

def test_kmo_and_bartlett_match_psych_on_mtcars(mtcars):
    # psych::KMO and psych::cortest.bartlett on mtcars, as printed by performance::check_factorstructure
    # (easystats/performance, reference/check_factorstructure.md): Chisq(55) = 408.01, KMO = 0.83,
    # per item mpg .93 cyl .90 disp .76 hp .84 drat .95 wt .74 qsec .74 vs .91 am .88 gear .85 carb .62
    assert mtcars["mpg"].mean() == pytest.approx(20.090625)  # the data are R's mtcars
    b = cl.bartlett_sphericity(mtcars)
    assert b["chi2"] == pytest.approx(408.01, abs=0.005)
    assert b["df"] == 55
    assert b["p_value"] < 0.001
    overall, per = cl.kmo(mtcars)
    assert overall == pytest.approx(0.83, abs=0.005)
    expected = {"mpg": 0.93, "cyl": 0.90, "disp": 0.76, "hp": 0.84, "drat": 0.95, "wt": 0.74, "qsec": 0.74,
                "vs": 0.91, "am": 0.88, "gear": 0.85, "carb": 0.62}
    for k, v in expected.items():
        assert per[k] == pytest.approx(v, abs=0.0051), k
    # the same from the correlation matrix
    o2, _ = cl.kmo(np.corrcoef(mtcars.to_numpy(), rowvar=False), is_corr=True)
    assert o2 == pytest.approx(overall)
    b2 = cl.bartlett_sphericity(np.corrcoef(mtcars.to_numpy(), rowvar=False), n=32, is_corr=True)
    assert b2["chi2"] == pytest.approx(b["chi2"])


def test_bartlett_matches_statsample_example():
    # statsample (Ruby) test_bartlettsphericity.rb: chi2 = 9.477, df = 3, p = 0.024 for n = 14
    v1 = [1, 2, 3, 4, 7, 8, 9, 10, 14, 15, 20, 50, 60, 70]
    v2 = [5, 6, 11, 12, 13, 16, 17, 18, 19, 20, 30, 0, 0, 0]
    v3 = [10, 3, 20, 30, 40, 50, 80, 10, 20, 30, 40, 2, 3, 4]
    b = cl.bartlett_sphericity(np.c_[v1, v2, v3])
    assert b["chi2"] == pytest.approx(9.477, abs=0.001)
    assert b["df"] == 3
    assert b["p_value"] == pytest.approx(0.024, abs=0.001)


def test_partial_correlations_match_factor_analyzer_test():
    # factor_analyzer tests/test_factor_analyzer.py::test_partial_correlations
    data = np.array([[12, 14, 15], [24, 12, 52], [35, 12, 41], [23, 12, 42]], dtype=float)
    P = cl.partial_correlations(data)
    assert P[0, 1] == pytest.approx(-0.730955, abs=1e-6)
    assert P[0, 2] == pytest.approx(-0.50616, abs=1e-5)
    assert P[1, 2] == pytest.approx(-0.928701, abs=1e-6)
    # KMO for 3 variables by hand from those partials: sum r^2 / (sum r^2 + sum q^2)
    R = np.corrcoef(data, rowvar=False)
    r2 = R[0, 1] ** 2 + R[0, 2] ** 2 + R[1, 2] ** 2
    q2 = 0.730955 ** 2 + 0.50616 ** 2 + 0.928701 ** 2
    assert cl.kmo(data)[0] == pytest.approx(r2 / (r2 + q2), abs=1e-5)


def test_kmo_singular_matrix_is_a_model_error():
    x = np.arange(10.0)
    with pytest.raises(ModelError):
        cl.kmo(np.c_[x, 2 * x, np.sin(x)])


# --- factor analysis ------------------------------------------------------------------------------

def _varimax_criterion(L: np.ndarray) -> float:
    h = np.sqrt((L ** 2).sum(axis=1))
    A = (L / h[:, None]) ** 2
    return float(((A - A.mean(axis=0)) ** 2).sum())


def test_varimax_matches_brute_force_search_in_two_dimensions():
    # a noisy simple structure, then an arbitrary rotation; in 2-D the varimax optimum can be
    # found independently by a grid search over the rotation angle
    rng = np.random.default_rng(7)
    L = np.zeros((8, 2))
    L[:4, 0] = [0.8, 0.7, 0.75, 0.85]
    L[4:, 1] = [0.7, 0.8, 0.65, 0.9]
    L += rng.normal(scale=0.08, size=L.shape)
    th = 0.6
    rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    R, T = cl.varimax(L @ rot)
    assert np.allclose(T @ T.T, np.eye(2), atol=1e-10)
    assert np.allclose((R ** 2).sum(axis=1), (L ** 2).sum(axis=1))  # communalities unchanged
    grid = np.linspace(0, np.pi / 2, 20001)
    crit = [_varimax_criterion(L @ rot @ np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]))
            for a in grid]
    assert _varimax_criterion(R) == pytest.approx(max(crit), rel=1e-6)
    assert _varimax_criterion(R) > _varimax_criterion(L @ rot) + 0.1
    # the first four indicators load on one factor, the last four on the other
    big = np.abs(R).argmax(axis=1)
    assert len(set(big[:4])) == 1 and len(set(big[4:])) == 1 and big[0] != big[4]


def test_factor_analysis_finds_two_factors():
    rng = np.random.default_rng(5)
    n = 2000
    f = rng.normal(size=(n, 2))
    load = np.zeros((8, 2))
    load[:4, 0] = 0.85
    load[4:, 1] = 0.85
    X = f @ load.T + rng.normal(scale=0.5, size=(n, 8))
    X = pd.DataFrame(X, columns=["frequency", "monetary", "largest_purchase", "first_amount",
                                 "recency_time", "ipt_mean", "x7", "x8"])
    assert cl.n_factors_kaiser(X) == 2
    assert cl.parallel_analysis(X, n_iter=10, seed=1)[0] == 2
    fr = cl.factor_analysis(X)
    assert list(fr.loadings.columns) == ["F1", "F2"]
    big = fr.loadings.abs().idxmax(axis=1)
    assert big[:4].nunique() == 1 and big[4:].nunique() == 1 and big.iloc[0] != big.iloc[4]
    kinds = {big.iloc[0]: "value", big.iloc[4]: "risk"}
    assert fr.kinds.to_dict() == kinds
    # factor scores correlate with the true factors
    c = np.corrcoef(fr.scores[big.iloc[0]], f[:, 0])[0, 1]
    assert abs(c) > 0.9


# --- clustering -----------------------------------------------------------------------------------

def test_chosen_k_equals_true_k_and_recovery_ari():
    X, truth = _blobs()
    crit = cl.choose_k(X, k_range=range(2, 8), seed=3, silhouette_sample=800)
    assert cl.pick_k(crit) == 4
    assert crit["gmm_bic"].idxmin() == 4
    lab = cl.fit_kmeans(X, 4, seed=3)
    assert adjusted_rand_score(truth, lab) >= 0.9
    assert adjusted_rand_score(truth, cl.fit_gmm(X, 4, seed=3)) >= 0.9
    boot = cl.bootstrap_stability(X, 4, n_boot=5, seed=3)
    assert cl.stability_summary(boot)["mean"] >= 0.95


def test_determinism_under_a_seed():
    X, _ = _blobs(n_per=100, sep=2.0, seed=1)  # overlapping groups: randomness would show
    a = cl.choose_k(X, range(2, 6), seed=11, silhouette_sample=200)
    b = cl.choose_k(X, range(2, 6), seed=11, silhouette_sample=200)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_series_equal(cl.fit_kmeans(X, 3, seed=11), cl.fit_kmeans(X, 3, seed=11))
    pd.testing.assert_frame_equal(cl.bootstrap_stability(X, 3, n_boot=3, seed=11),
                                  cl.bootstrap_stability(X, 3, n_boot=3, seed=11))


def test_labels_are_ordered_by_size():
    X, _ = _blobs(n_per=50, k=3)
    X = pd.concat([X, X.iloc[:50] + 0.01])  # cluster of the first blob is now the largest
    lab = cl.fit_kmeans(X, 3, seed=0)
    counts = lab.value_counts().sort_index()
    assert counts.is_monotonic_decreasing


def test_bad_k():
    X, _ = _blobs(n_per=5, k=2)
    with pytest.raises(ModelError):
        cl.fit_kmeans(X, 50)
    with pytest.raises(ParameterError):
        cl.choose_k(X, k_range=[1])


# --- features, preparation, profiles --------------------------------------------------------------

def _tx(quantity: bool = True) -> pd.DataFrame:
    d = pd.DataFrame({
        "customer_id": ["a", "a", "a", "a", "b", "c", "c"],
        "date": pd.to_datetime(["2021-01-01", "2021-01-11", "2021-01-11", "2021-01-31", "2021-01-05",
                                "2021-01-02", "2021-01-04"]),
        "amount": [10.0, 15.0, 5.0, 30.0, 8.0, 50.0, 10.0],
        "quantity": [1.0, 2.0, 2.0, 3.0, 1.0, 5.0, 1.0],
    })
    return d if quantity else d.drop(columns="quantity")


def test_behaviour_features_by_hand():
    tx = _tx()
    s = summarize(tx, "2021-02-10", time_unit="D")
    f = cl.behaviour_features(s, tx)
    a = f.loc["a"]
    # a: purchase days 01-01 (10), 01-11 (20, two rows merged), 01-31 (30); T = 40 days
    assert a["frequency"] == 3 and a["monetary"] == pytest.approx(20.0)
    assert a["recency_time"] == 10 and a["tenure"] == 40
    assert a["ipt_mean"] == pytest.approx(15.0)                       # gaps 10, 20
    assert a["ipt_cv"] == pytest.approx(np.std([10, 20], ddof=1) / 15.0)
    assert a["spend_trend"] == pytest.approx(10.0 / 20.0)             # +10 per purchase / mean 20
    assert a["largest_purchase"] == 30 and a["first_amount"] == 10
    assert a["items_per_purchase"] == pytest.approx(8 / 3)            # 1, 4, 3 items per day
    b = f.loc["b"]  # one-time buyer: gap = T (censored), no variation, no trend
    assert b["ipt_mean"] == b["tenure"] == 36 and b["ipt_cv"] == 0 and b["spend_trend"] == 0
    c = f.loc["c"]  # two purchases: one gap, CV undefined -> 0; trend (10 - 50) / 1 / 30
    assert c["ipt_cv"] == 0 and c["spend_trend"] == pytest.approx(-40.0 / 30.0)
    assert cl.feature_label("largest_purchase", "days", "EUR") == "largest_purchase (EUR)"
    assert cl.feature_label("ipt_mean", "days", "EUR") == "ipt_mean (days)"
    f2 = cl.behaviour_features(s, _tx(quantity=False))
    assert "items_per_purchase" not in f2.columns
    pd.testing.assert_frame_equal(f2, f.drop(columns="items_per_purchase"))


def test_prepare_features_logs_skewed_and_standardises():
    rng = np.random.default_rng(0)
    raw = pd.DataFrame({"skewed": rng.lognormal(0, 1.5, 2000), "sym": rng.normal(size=2000),
                        "const": np.ones(2000)})
    pf = cl.prepare_features(raw)
    t = pf.transforms.set_index("feature")
    assert bool(t.loc["skewed", "log"]) and not bool(t.loc["sym", "log"])
    assert not bool(t.loc["const", "kept"])
    assert list(pf.X.columns) == ["skewed", "sym"]
    assert np.allclose(pf.X.mean(), 0, atol=1e-12) and np.allclose(pf.X.std(ddof=0), 1)
    assert abs(t.loc["skewed", "skew_after"]) < t.loc["skewed", "skew_before"] / 3
    with pytest.raises(ModelError):
        cl.prepare_features(raw.iloc[:2])
    with pytest.raises(ParameterError):
        cl.prepare_features(raw, columns=["nope"])


def test_name_clusters_from_profile():
    z = pd.DataFrame({"frequency": [1.2, -0.8, 0.05], "monetary": [0.6, -0.1, 0.1],
                      "recency_time": [-0.9, 1.1, 0.0]}, index=[0, 1, 2])
    names = cl.name_clusters(z)
    assert names[0] == "frequent, recent"
    assert names[1] == "lapsed, one-off"
    assert names[2] == "average"


def test_profiles_grid_and_recommendations(cdnow_sample):
    s = summarize(cdnow_sample)
    pf = cl.prepare_features(cl.behaviour_features(s, cdnow_sample))
    lab = cl.fit_kmeans(pf.X, 3, seed=1, n_init=3)
    prof = cl.cluster_profiles(pf, lab, s["total_amount"])
    assert prof["customers"].sum() == len(s)
    assert prof["revenue_share"].sum() == pytest.approx(1.0)
    names = cl.name_clusters(cl.cluster_zscores(pf, lab))
    assert names.nunique() == 3
    rec = cl.cluster_recommendations(prof, names)
    assert rec["action"].str.len().gt(10).all()
    fr = cl.factor_analysis(pf.X)
    grid = cl.value_risk_grid(lab, fr, pf, names)
    assert grid["customers"].sum() == len(s)
    # the value axis ranks clusters like their spend per purchase (value factor = basket value)
    assert grid["value_index"].idxmax() == prof["monetary"].idxmax()
    assert grid["value_index"].idxmin() == prof["monetary"].idxmin()


def test_grid_axis_left_empty_by_the_screen_uses_the_indicators_before_it(cdnow_sample):
    # The screen before the factor analysis can drop every risk indicator (low MSA); averaging
    # their z-scores is still meaningful, so the risk axis takes them from before the screen.
    s = summarize(cdnow_sample)
    pf = cl.prepare_features(cl.behaviour_features(s, cdnow_sample))
    lab = cl.fit_kmeans(pf.X, 3, seed=1, n_init=3)
    screened = cl.prepare_features(pf.raw[[c for c in pf.raw.columns if c not in cl.RISK_FEATURES]])
    with pytest.raises(ModelError, match="risk indicator"):
        cl.value_risk_grid(lab, None, screened)
    grid = cl.value_risk_grid(lab, None, screened, indicators=pf)
    risk = [c for c in cl.RISK_FEATURES if c in pf.X.columns]
    assert grid["risk_source"].iloc[0] == "indicators before the screen " + ", ".join(risk)
    expected = pf.X[risk].mean(axis=1).groupby(lab).mean()  # by hand: mean z-score per cluster
    np.testing.assert_allclose(grid["risk_index"].to_numpy(), expected.reindex(grid.index).to_numpy())


def test_select_indicators_drops_a_pair_that_shares_nothing_with_the_factor():
    from clm_utils.cluster import kmo, select_indicators

    rng = np.random.default_rng(0)
    f, u = rng.normal(size=2000), rng.normal(size=2000)
    data = pd.DataFrame({f"v{i}": f + 0.7 * rng.normal(size=2000) for i in range(6)})
    # a pair correlated only with each other: its partial correlation equals its correlation (sign aside),
    # so each member's MSA = r^2 / (r^2 + p^2) = 1/2 analytically
    data["pair_a"] = u + 0.3 * rng.normal(size=2000)
    data["pair_b"] = -u + 0.3 * rng.normal(size=2000)
    _, msa = kmo(data)
    assert msa[["pair_a", "pair_b"]].to_numpy() == pytest.approx([0.5, 0.5], abs=0.02)
    kept = select_indicators(data, min_msa=0.6)
    assert kept == [f"v{i}" for i in range(6)]
    # too few pass: everything is kept rather than a trivial set
    assert select_indicators(data, min_msa=0.999) == list(data.columns)


# --- redundant indicators (issue: factor-then-cluster on a small apparel shop) ---------------------

def _redundant_data(n: int = 600, seed: int = 7) -> pd.DataFrame:
    """Four independent indicators plus a constant, an exact duplicate and a near-linear combination."""
    rng = np.random.default_rng(seed)
    d = pd.DataFrame({f"x{i}": rng.normal(size=n) for i in range(1, 5)})
    d.insert(1, "const", 3.0)
    d["x1_copy"] = d["x1"]
    d["combo"] = d["x2"] + d["x3"] + 1e-3 * rng.normal(size=n)  # |r| about 0.7 with each: no pair rule
    return d


def test_drop_redundant_indicators_constant_duplicate_and_combination():
    d = _redundant_data()
    with pytest.raises(ModelError):  # the failure the issue reports, before the screen
        cl.kmo(d.drop(columns="const"))
    kept, dropped = cl.drop_redundant_indicators(d)
    assert list(kept.columns) == ["x1", "x2", "x3", "x4"]
    assert dropped["indicator"].tolist() == ["const", "x1_copy", "combo"]
    assert dropped["reason"].tolist() == ["constant", "collinear pair", "near-linear combination"]
    assert "with x1" in dropped.loc[1, "detail"] and "x2" in dropped.loc[2, "detail"]
    # independent check by least squares: each dropped non-constant indicator is (almost) an exact
    # linear function of the kept ones (R^2 > 0.999), and the kept set is well conditioned
    K = np.c_[np.ones(len(kept)), kept.to_numpy()]
    for c in ("x1_copy", "combo"):
        y = d[c].to_numpy()
        resid = y - K @ np.linalg.lstsq(K, y, rcond=None)[0]
        assert 1 - resid.var() / y.var() > 0.999
    assert np.linalg.eigvalsh(np.corrcoef(kept.to_numpy(), rowvar=False)).min() > 0.5
    overall, _ = cl.kmo(kept)  # clustering goes on: KMO and Bartlett now work
    assert np.isfinite(overall) and np.isfinite(cl.bartlett_sphericity(kept)["chi2"])


def test_drop_redundant_keeps_the_earlier_of_a_near_duplicate_pair_and_clean_data_untouched():
    rng = np.random.default_rng(3)
    a = rng.normal(size=500)
    d = pd.DataFrame({"monetary": a, "largest_purchase": a + 0.05 * rng.normal(size=500), "other": rng.normal(size=500)})
    r = np.corrcoef(d["monetary"], d["largest_purchase"])[0, 1]
    assert r > 0.98
    kept, dropped = cl.drop_redundant_indicators(d)
    assert list(kept.columns) == ["monetary", "other"] and dropped["indicator"].tolist() == ["largest_purchase"]
    assert f"{r:.3f}" in dropped.loc[0, "detail"]
    clean = pd.DataFrame(rng.normal(size=(300, 4)), columns=list("abcd"))
    kept, dropped = cl.drop_redundant_indicators(clean)
    assert kept.equals(clean) and dropped.empty


def test_fewer_than_two_usable_indicators_is_a_model_error():
    x = np.arange(50.0)
    d = pd.DataFrame({"a": x, "b": 2 * x + 1, "c": 1.0})
    with pytest.raises(ModelError, match="only 1 usable indicator"):
        cl.drop_redundant_indicators(d)


def test_screen_indicators_lists_every_drop_with_its_reason():
    rng = np.random.default_rng(0)
    f = rng.normal(size=2000)
    d = pd.DataFrame({f"v{i}": f + 0.7 * rng.normal(size=2000) for i in range(5)})
    u = rng.normal(size=2000)  # a pair correlated only with each other: MSA = 1/2 analytically (see above)
    d["pair_a"], d["pair_b"] = u + 0.3 * rng.normal(size=2000), -u + 0.3 * rng.normal(size=2000)
    d["v0_copy"] = d["v0"]
    d["flat"] = 1.0
    screen = cl.screen_indicators(d, min_msa=0.6)
    assert screen.kept == [f"v{i}" for i in range(5)]
    assert dict(zip(screen.dropped["indicator"], screen.dropped["reason"], strict=True)) == {
        "flat": "constant", "v0_copy": "collinear pair", "pair_a": "low MSA", "pair_b": "low MSA"}
    assert screen.tests["indicators"].tolist() == [7, 5]
    assert (screen.tests["KMO"] > 0.5).all()


# --- large bases: stratified sample for model choice and bootstrap, everyone assigned -------------

def test_stratified_sample_is_proportional_exact_and_seeded():
    rng = np.random.default_rng(2)
    X = pd.DataFrame(rng.normal(size=(1000, 3)))
    strata = np.repeat(["a", "b", "c"], [500, 300, 200])
    pos = cl.stratified_sample(X, 100, seed=5, strata=strata)
    assert len(pos) == 100 and len(np.unique(pos)) == 100 and np.all(np.diff(pos) > 0)
    assert pd.Series(strata[pos]).value_counts().sort_index().tolist() == [50, 30, 20]
    np.testing.assert_array_equal(pos, cl.stratified_sample(X, 100, seed=5, strata=strata))
    # default strata: 10 equal-count bands of the first principal component, 7 rows each of 70
    pc_pos = cl.stratified_sample(X, 70, seed=5)
    assert len(pc_pos) == 70
    np.testing.assert_array_equal(cl.stratified_sample(X, 5000, seed=5), np.arange(1000))


def test_max_sample_assigns_every_customer_and_leaves_small_bases_unchanged():
    from sklearn.cluster import KMeans

    X, truth = _blobs(n_per=150, k=4)
    # small base (n <= max_sample): the same labels as sklearn on all customers, up to naming
    lab = cl.fit_kmeans(X, 4, seed=3, max_sample=5000)
    direct = KMeans(n_clusters=4, n_init=10, random_state=3).fit(X.to_numpy()).labels_
    assert adjusted_rand_score(direct, lab) == 1.0
    pd.testing.assert_series_equal(lab, cl.fit_kmeans(X, 4, seed=3, max_sample=None))
    pd.testing.assert_frame_equal(cl.choose_k(X, [3, 4], seed=3, silhouette_sample=300, gmm=False, max_sample=None),
                                  cl.choose_k(X, [3, 4], seed=3, silhouette_sample=300, gmm=False, max_sample=len(X)))
    pd.testing.assert_frame_equal(cl.bootstrap_stability(X, 4, n_boot=2, seed=3, max_sample=None),
                                  cl.bootstrap_stability(X, 4, n_boot=2, seed=3, max_sample=len(X)))
    # large base: fitted on 200 sampled customers, all 600 labelled, the known clusters recovered
    big = cl.fit_kmeans(X, 4, seed=3, max_sample=200)
    assert len(big) == len(X) and big.notna().all() and big.index.equals(X.index)
    assert adjusted_rand_score(truth, big) >= 0.9
    gm = cl.fit_gmm(X, 4, seed=3, max_sample=200)
    assert len(gm) == len(X) and adjusted_rand_score(truth, gm) >= 0.9
    crit = cl.choose_k(X, range(3, 6), seed=3, silhouette_sample=200, gmm=False, max_sample=300)
    assert cl.pick_k(crit) == 4
    boot = cl.bootstrap_stability(X, 4, n_boot=3, seed=3, max_sample=300, reference=big)
    assert cl.stability_summary(boot)["mean"] >= 0.95


def test_plot_transform_effect_shows_the_most_skewed_features():
    rng = np.random.default_rng(1)
    raw = pd.DataFrame({"monetary": rng.lognormal(0, 1.5, 400), "tenure": rng.normal(50, 5, 400),
                        "frequency": rng.poisson(1, 400) + 1.0})
    prepared = cl.prepare_features(raw)
    axes = cl.plot_transform_effect(prepared, n=2, currency="EUR")
    assert axes.shape == (2, 2)
    top = prepared.transforms.sort_values("skew_before", ascending=False)["feature"].iloc[0]
    assert axes[0, 0].get_title().startswith(f"{top}: raw")
    assert "log-transformed" in axes[0, 1].get_title()


def test_describe_features_and_factor_clusters():
    rng = np.random.default_rng(4)
    raw = pd.DataFrame({"monetary": rng.lognormal(0, 1, 300), "recency_time": rng.uniform(0, 50, 300),
                        "frequency": rng.poisson(2, 300) + 1.0})
    prepared = cl.prepare_features(raw)
    desc = cl.describe_features(prepared)
    assert desc.loc["monetary", "mean"] == pytest.approx(raw["monetary"].mean())
    assert desc.loc["frequency", "median"] == raw["frequency"].median() and bool(desc.loc["monetary", "log"])
    # factor_clusters on well-separated groups in factor space: the known groups come back
    X, truth = _blobs(n_per=100, k=3, p=2, sep=10.0, seed=2)
    fr = cl.FactorResult(loadings=pd.DataFrame(np.eye(2), index=["monetary", "recency_time"], columns=["F1", "F2"]),
                         scores=X.set_axis(["F1", "F2"], axis=1), names=pd.Series({"F1": "big", "F2": "lapsed"}),
                         kinds=pd.Series({"F1": "value", "F2": "risk"}), variance_share=pd.Series({"F1": 0.5, "F2": 0.5}),
                         eigenvalues=pd.Series([1.0, 1.0]))
    prep = cl.prepare_features(X.set_axis(["monetary", "recency_time"], axis=1))
    fc = cl.factor_clusters(fr, prep, pd.Series(1.0, index=X.index), k_range=range(2, 6), seed=1, silhouette_sample=300)
    assert fc.k == 3 and adjusted_rand_score(truth, fc.labels) == 1.0
    assert fc.grid["revenue_share"].sum() == pytest.approx(1.0) and len(fc.names) == 3
    assert cl.factor_clusters(fr, prep, pd.Series(1.0, index=X.index), k=4, seed=1).k == 4
