"""One settings object: every way in (YAML, flags, a notebook's dict) is validated in one place."""

from __future__ import annotations

import pytest

from clm_utils.errors import ParameterError
from clm_utils.report import build_options, read_config_file
from clm_utils.settings import Settings


def test_defaults_are_valid_and_round_trip():
    s = Settings().validated()
    assert Settings.from_mapping(s.to_dict()) == s
    assert s.horizon == "12M" and s.time_unit == "W" and s.models == ("BG/NBD", "Pareto/NBD", "MBG/NBD")


def test_aliases_and_normalisation():
    s = Settings.from_mapping({"observation_end": "1998-06-30 00:00", "time_unit": "m", "models": "BG/NBD"})
    assert s.as_of == "1998-06-30" and s.time_unit == "M" and s.models == ("BG/NBD",)


@pytest.mark.parametrize(
    ("values", "parameter", "text"),
    [
        ({"time_unt": "W"}, "settings", "did you mean 'time_unit'"),
        ({"as_of": "someday"}, "as_of", "is not a date"),
        ({"as_of": "1998-01-01", "calibration_end": "1998-02-01"}, "calibration_end", "not before"),
        ({"models": ["BG/NBD", "Weibull"]}, "models", "unknown model 'Weibull'"),
        ({"clv_model": "Pareto/NBD", "models": ["BG/NBD"]}, "clv_model", "not among the models"),
        ({"margin": 1.5}, "margin", "out of range"),
        ({"margin": 0}, "margin", "above 0"),
        ({"horizon": "12 parsecs"}, "horizon", "not understood"),
        ({"tier_shares": [0.5, 0.5]}, "tier_shares", "3 positive shares"),
        ({"negative": "ignore"}, "negative", "not a choice"),
        ({"seed": 1.5}, "seed", "whole number"),
        ({"lang": "fr"}, "lang", "not supported"),
    ],
)
def test_bad_settings_name_the_setting(values, parameter, text):
    with pytest.raises(ParameterError) as err:
        Settings.from_mapping(values)
    assert err.value.parameter == parameter and text in err.value.one_line()


def test_the_cache_key_changes_with_the_data_the_settings_and_the_code():
    a, b = Settings(), Settings.from_mapping({"margin": 0.3})
    assert a.key("d1", "c1") == Settings().key("d1", "c1")
    assert len({a.key("d1", "c1"), b.key("d1", "c1"), a.key("d2", "c1"), a.key("d1", "c2")}) == 4


def test_yaml_flags_and_params_reach_the_same_settings(tmp_path):
    cfg = tmp_path / "run.yml"
    cfg.write_text("data: sales.csv\nas_of: 2025-12-31\nmargin: 0.3\nparams: {period: Q, horizon: 6M}\n"
                   "policies: {negative: drop}\n", encoding="utf-8")
    opts = build_options(read_config_file(cfg), currency="EUR", params={"top_n": 5})
    s = opts.settings
    assert s.data_path == str((tmp_path / "sales.csv").resolve())
    assert (s.as_of, s.margin, s.horizon, s.negative, s.currency) == ("2025-12-31", 0.3, "6M", "drop", "EUR")
    assert opts.params == {"period": "Q", "top_n": 5}  # a params entry naming a setting became that setting
