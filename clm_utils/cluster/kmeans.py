"""Choosing k, fitting k-means / Gaussian mixtures, and bootstrap stability."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from clm_utils import config
from clm_utils.errors import ModelError, ParameterError

__all__ = ["DEFAULT_MAX_SAMPLE", "bootstrap_stability", "choose_k", "fit_gmm", "fit_kmeans", "pick_k", "plot_k_selection", "stability_summary", "stratified_sample"]


#: Customers used to choose k, fit the final model and run the bootstrap when the base is larger;
#: every customer is then assigned to the nearest centre (k-means) or most likely component (GMM).
DEFAULT_MAX_SAMPLE = 20_000


def stratified_sample(X: pd.DataFrame | np.ndarray, size: int | None, seed: int = config.DEFAULT_SEED,
                      strata: pd.Series | np.ndarray | None = None, n_strata: int = 10) -> np.ndarray:
    """Positions of a seeded stratified sample of ``size`` rows (all rows when there are no more).

    Strata: ``strata`` when given (e.g. RFM segments, aligned to ``X``), otherwise ``n_strata``
    equal-count bands of the first principal component of ``X`` (the main axis of variation, so
    that both tails, e.g. the few very large spenders, are represented in proportion).
    Allocation is proportional to stratum size, rounded by largest remainder so the total is
    exactly ``size``; rows are drawn without replacement within each stratum.

    Returns
    -------
    Sorted integer positions into ``X``.
    """
    A = np.asarray(X, dtype=float)
    n = len(A)
    if size is None or n <= int(size):
        return np.arange(n)
    size = int(size)
    if size < 1:
        raise ParameterError(f"max_sample must be a positive integer, got {size}", parameter="max_sample")
    if strata is None:
        Z = A - A.mean(axis=0)
        sd = Z.std(axis=0)
        Z = Z / np.where(sd > 0, sd, 1.0)
        pc1 = Z @ np.linalg.svd(Z[:: max(1, n // 50_000)], full_matrices=False)[2][0]
        ranks = np.argsort(np.argsort(pc1, kind="stable"), kind="stable")
        codes = (ranks * n_strata) // n
    else:
        codes = pd.factorize(pd.Series(np.asarray(strata)).astype(str), sort=True)[0]
        if len(codes) != n:
            raise ParameterError("strata must have one value per customer", parameter="strata")
    levels, counts = np.unique(codes, return_counts=True)
    quota = counts * size / n
    alloc = np.floor(quota).astype(int)
    rest = size - alloc.sum()
    alloc[np.argsort(-(quota - alloc), kind="stable")[:rest]] += 1
    rng = np.random.default_rng(seed)
    picked = [rng.choice(np.flatnonzero(codes == lv), size=a, replace=False) for lv, a in zip(levels, alloc, strict=True)]
    return np.sort(np.concatenate(picked))


_F = TypeVar("_F", bound=Callable[..., Any])


def _one_thread(func: _F) -> _F:
    """Run ``func`` with one OpenMP / BLAS thread.

    k-means and mixtures here run on samples of at most ``max_sample`` customers, where threads
    only contend: on the shared 2-core machine one k-means fit on CDNOW's 10,000-customer sample
    took 14 s with the default threads and 0.7 s with one.  scikit-learn is imported first, so the
    limit reaches its OpenMP runtime (threadpoolctl limits only libraries already loaded).
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import sklearn.cluster  # noqa: F401 - loads the OpenMP runtime the limit must reach
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _sample_note(n: int, max_sample: int | None, seed: int, what: str) -> str | None:
    """The note a sampled clustering step carries (None when every customer was used)."""
    if max_sample is None or n <= int(max_sample):
        return None
    return (f"{what} on a seeded stratified sample of {int(max_sample):,} of {n:,} customers (seed {seed}; "
            f"strata: bands of the first principal component); every customer is then assigned")


def _check_k_range(k_range: Sequence[int], n: int) -> list[int]:
    ks = sorted({int(k) for k in k_range})
    if not ks or ks[0] < 2:
        raise ParameterError("k_range must contain integers >= 2", parameter="k_range", hint="e.g. range(2, 9)")
    ks = [k for k in ks if k < n]
    if not ks:
        raise ModelError(f"too few customers ({n}) for the k range asked")
    return ks


@_one_thread
def choose_k(X: pd.DataFrame, k_range: Sequence[int] = range(2, 9), seed: int = config.DEFAULT_SEED,
             n_init: int = 4, silhouette_sample: int = 3000, gmm: bool = True,
             gmm_sample: int = 5000, max_sample: int | None = DEFAULT_MAX_SAMPLE) -> pd.DataFrame:
    """Criteria for each k: inertia (elbow), silhouette, Calinski-Harabasz and GMM BIC.

    With more than ``max_sample`` customers every criterion is computed on a seeded stratified
    sample of ``max_sample`` (:func:`stratified_sample`; None = always all customers); smaller
    bases are used whole, so their results do not depend on ``max_sample``.

    Silhouette is computed on a seeded subsample of ``silhouette_sample`` customers (it is
    O(n^2)) and the Gaussian-mixture BIC on a seeded subsample of ``gmm_sample`` (the same rows
    for every k, so the BICs are comparable); inertia and Calinski-Harabasz on all customers.

    Default-k rule (:func:`pick_k`): the k with the highest silhouette; ties (within 0.005) go to
    the smaller k.

    Returns
    -------
    DataFrame
        Indexed by ``k``: ``inertia``, ``silhouette``, ``calinski_harabasz``, ``gmm_bic``.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import calinski_harabasz_score, silhouette_score
    from sklearn.mixture import GaussianMixture

    A = np.asarray(X, dtype=float)
    A = A[stratified_sample(A, max_sample, seed)]
    ks = _check_k_range(k_range, len(A))
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(len(A), size=min(silhouette_sample, len(A)), replace=False))
    gsample = np.sort(rng.choice(len(A), size=min(gmm_sample, len(A)), replace=False))
    rows = []
    for k in ks:
        km = KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit(A)
        lab = km.labels_
        n_lab = len(np.unique(lab))
        sil = float(silhouette_score(A[sample], lab[sample])) if len(np.unique(lab[sample])) > 1 else np.nan
        ch = float(calinski_harabasz_score(A, lab)) if n_lab > 1 else np.nan
        bic = np.nan
        if gmm:
            gm = GaussianMixture(n_components=k, covariance_type="full", random_state=seed, n_init=1,
                                 reg_covar=1e-4, max_iter=200).fit(A[gsample])
            bic = float(gm.bic(A[gsample]))
        rows.append({"k": k, "inertia": float(km.inertia_), "silhouette": sil, "calinski_harabasz": ch, "gmm_bic": bic})
    out = pd.DataFrame(rows).set_index("k")
    note = _sample_note(len(X), max_sample, seed, "criteria computed")
    if note:
        out.attrs["note"] = note
    return out


def pick_k(criteria: pd.DataFrame, tol: float = 0.005) -> int:
    """Default k: highest silhouette, ties within ``tol`` broken towards the smaller k."""
    sil = criteria["silhouette"].dropna()
    if sil.empty:
        raise ModelError("no silhouette could be computed", hint="set k explicitly")
    best = sil.max()
    return int(sil[sil >= best - tol].index.min())


def plot_k_selection(criteria: pd.DataFrame, chosen: int | None = None) -> np.ndarray:
    """The four criteria against k in one figure (2 x 2 panels); returns the Axes array."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(10, 6.5), sharex=True)
    spec = [("inertia", "Inertia (elbow; lower = tighter)"), ("silhouette", "Silhouette (higher = better)"),
            ("calinski_harabasz", "Calinski-Harabasz (higher = better)"), ("gmm_bic", "Gaussian mixture BIC (lower = better)")]
    for ax, (col, title) in zip(axes.ravel(), spec, strict=True):
        ax.plot(criteria.index, criteria[col], marker="o")
        ax.set_title(title)
        ax.set_ylabel(col.replace("_", " "))
        if chosen is not None:
            ax.axvline(chosen, color="C3", ls="--", lw=1)
    for ax in axes[1]:
        ax.set_xlabel("number of clusters k")
    fig.suptitle("Choosing the number of clusters" + (f" (chosen k = {chosen})" if chosen else ""))
    fig.tight_layout()
    return axes


@_one_thread
def fit_kmeans(X: pd.DataFrame, k: int, seed: int = config.DEFAULT_SEED, n_init: int = 10,
               max_sample: int | None = DEFAULT_MAX_SAMPLE) -> pd.Series:
    """k-means labels (0..k-1, relabelled by cluster size, largest first), aligned to ``X``.

    With more than ``max_sample`` customers the centres are fitted on a seeded stratified sample
    (:func:`stratified_sample`) and every customer is then assigned to the nearest centre.
    """
    from sklearn.cluster import KMeans

    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ParameterError(f"k must be a positive integer, got {k!r}", parameter="k")
    if k > len(X):
        raise ModelError(f"k = {k} is larger than the number of customers ({len(X)})", hint="choose a smaller k")
    A = np.asarray(X, dtype=float)
    km = KMeans(n_clusters=int(k), n_init=n_init, random_state=seed).fit(A[stratified_sample(A, max_sample, seed)])
    labels = _relabel_by_size(pd.Series(km.predict(A), index=X.index, name="cluster"))
    note = _sample_note(len(A), max_sample, seed, "k-means centres fitted")
    if note:
        labels.attrs["note"] = note
    return labels


@_one_thread
def fit_gmm(X: pd.DataFrame, k: int, seed: int = config.DEFAULT_SEED, n_init: int = 2,
            max_sample: int | None = DEFAULT_MAX_SAMPLE) -> pd.Series:
    """Gaussian-mixture (full covariance) hard labels, relabelled by size, aligned to ``X``.

    With more than ``max_sample`` customers the mixture is fitted on a seeded stratified sample
    and every customer is then given its most likely component.
    """
    from sklearn.mixture import GaussianMixture

    gm = GaussianMixture(n_components=int(k), covariance_type="full", random_state=seed, n_init=n_init,
                         reg_covar=1e-4).fit(np.asarray(X, dtype=float)[stratified_sample(X, max_sample, seed)])
    labels = _relabel_by_size(pd.Series(gm.predict(np.asarray(X, dtype=float)), index=X.index, name="cluster"))
    note = _sample_note(len(X), max_sample, seed, "Gaussian mixture fitted")
    if note:
        labels.attrs["note"] = note
    return labels


def _relabel_by_size(labels: pd.Series) -> pd.Series:
    counts = labels.value_counts()
    order = sorted(counts.index, key=lambda c: (-counts[c], c))
    mapping = {old: new for new, old in enumerate(order)}
    return labels.map(mapping).astype("int64").rename("cluster")


@_one_thread
def bootstrap_stability(X: pd.DataFrame, k: int, n_boot: int = 20, seed: int = config.DEFAULT_SEED,
                        n_init: int = 3, sample_size: int | None = None,
                        reference: pd.Series | None = None,
                        max_sample: int | None = DEFAULT_MAX_SAMPLE) -> pd.DataFrame:
    """Stability of k-means: adjusted Rand index between the reference clustering and clusterings
    fitted on bootstrap resamples (each resample's model labels all customers).

    Parameters
    ----------
    n_boot
        Number of bootstrap resamples.
    sample_size
        Size of each resample (default: all customers, drawn with replacement); a smaller size
        speeds it up on large bases.
    max_sample
        With more customers, the whole procedure runs on a seeded stratified sample of this size
        (:func:`stratified_sample`): resamples are drawn from it and the ARI is computed on it.
    reference
        The clustering to compare with (e.g. :func:`fit_kmeans` labels, aligned to ``X``); default:
        a k-means fit on all customers with ``n_init`` starts.

    Returns
    -------
    DataFrame
        One row per resample: ``replicate``, ``ari``.  Summarise with :func:`stability_summary`.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    if n_boot < 1:
        raise ParameterError("n_boot must be at least 1", parameter="n_boot")
    A = np.asarray(X, dtype=float)
    keep = stratified_sample(A, max_sample, seed)
    A = A[keep]
    n = len(A)
    if reference is not None:
        ref = reference.reindex(X.index).to_numpy()[keep]
    else:
        ref = KMeans(n_clusters=int(k), n_init=n_init, random_state=seed).fit(A).labels_
    rng = np.random.default_rng(seed)
    m = n if sample_size is None else min(int(sample_size), n)
    rows = []
    for b in range(n_boot):
        idx = rng.integers(0, n, size=m)
        km = KMeans(n_clusters=int(k), n_init=n_init, random_state=int(rng.integers(0, 2**31 - 1))).fit(A[idx])
        rows.append({"replicate": b + 1, "ari": float(adjusted_rand_score(ref, km.predict(A)))})
    out = pd.DataFrame(rows)
    note = _sample_note(len(X), max_sample, seed, "bootstrap stability computed")
    if note:
        out.attrs["note"] = note
    return out


def stability_summary(boot: pd.DataFrame) -> pd.Series:
    """Mean, standard deviation, 5th percentile, min and max of the bootstrap ARI."""
    a = boot["ari"]
    out = pd.Series({"mean": a.mean(), "sd": a.std(ddof=1) if len(a) > 1 else 0.0,
                     "p05": a.quantile(0.05), "min": a.min(), "max": a.max(), "n_boot": float(len(a))})
    if boot.attrs.get("note"):
        out.attrs["note"] = boot.attrs["note"]
    return out
