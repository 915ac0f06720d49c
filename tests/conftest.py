"""Shared fixtures: the bundled CDNOW data, loaded once per test session."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from clm_utils.data import load_cdnow  # noqa: E402
from clm_utils.summary import calibration_holdout  # noqa: E402


@pytest.fixture(scope="session")
def cdnow_sample() -> pd.DataFrame:
    """Transactions of the CDNOW 1/10 sample (Fader, Hardie & Lee 2005): 2,357 customers."""
    return load_cdnow(sample=True)


@pytest.fixture(scope="session")
def cdnow_sample_cal(cdnow_sample: pd.DataFrame) -> pd.DataFrame:
    """Calibration (to 1997-09-30) and holdout (to 1998-06-30) summary of the sample, in weeks."""
    return calibration_holdout(cdnow_sample, "1997-09-30", "1998-06-30", time_unit="W")


@pytest.fixture(scope="session")
def cdnow_master() -> pd.DataFrame:
    """Transactions of the full CDNOW master file: 23,570 customers, 69,659 rows."""
    return load_cdnow(sample=False)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
