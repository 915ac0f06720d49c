"""Committed claim calibration (written by `python -m clm_utils.lifecycle.calibration`)."""

TABLES = {
    'retained': {
        'settings': {'n_sims': 200, 'seed': 0, 'n_customers': 400, 'n_boot': 100, 'basis': 'retained'},
        'rows': [
            {'claim': '1. slow rise, rapid growth, plateau, then fall', 'null_fp_rate': 0.0, 'null_scenario': 'no_lifecycle', 'null_fp_ci_lower': 0.0, 'null_fp_ci_upper': 0.0183, 'power': 0.78, 'power_ci_lower': 0.7161, 'power_ci_upper': 0.8354, 'n_sims': 200},
            {'claim': '2. in formation, profit grows faster than volume', 'null_fp_rate': 0.05, 'null_scenario': 'volume_hump', 'null_fp_ci_lower': 0.0242, 'null_fp_ci_upper': 0.09, 'power': 0.945, 'power_ci_lower': 0.9037, 'power_ci_upper': 0.9722, 'n_sims': 200},
            {'claim': '3. volume peaks before profit', 'null_fp_rate': 0.005, 'null_scenario': 'volume_hump', 'null_fp_ci_lower': 0.0001, 'null_fp_ci_upper': 0.0275, 'power': 0.77, 'power_ci_lower': 0.7054, 'power_ci_upper': 0.8264, 'n_sims': 200},
            {'claim': '4. in decline, profit falls more slowly than volume', 'null_fp_rate': 0.025, 'null_scenario': 'no_lifecycle', 'null_fp_ci_lower': 0.0082, 'null_fp_ci_upper': 0.0574, 'power': 1.0, 'power_ci_lower': 0.9817, 'power_ci_upper': 1.0, 'n_sims': 200},
        ],
    },
    'acquired': {
        'settings': {'n_sims': 200, 'seed': 0, 'n_customers': 400, 'n_boot': 100, 'basis': 'acquired'},
        'rows': [
            {'claim': '1. slow rise, rapid growth, plateau, then fall', 'null_fp_rate': 0.0, 'null_scenario': 'no_lifecycle', 'null_fp_ci_lower': 0.0, 'null_fp_ci_upper': 0.0183, 'power': 0.925, 'power_ci_lower': 0.8793, 'power_ci_upper': 0.9574, 'n_sims': 200},
            {'claim': '2. in formation, profit grows faster than volume', 'null_fp_rate': 0.045, 'null_scenario': 'volume_hump', 'null_fp_ci_lower': 0.0208, 'null_fp_ci_upper': 0.0837, 'power': 1.0, 'power_ci_lower': 0.9817, 'power_ci_upper': 1.0, 'n_sims': 200},
            {'claim': '3. volume peaks before profit', 'null_fp_rate': 0.01, 'null_scenario': 'volume_hump', 'null_fp_ci_lower': 0.0012, 'null_fp_ci_upper': 0.0357, 'power': 0.535, 'power_ci_lower': 0.4633, 'power_ci_upper': 0.6056, 'n_sims': 200},
            {'claim': '4. in decline, profit falls more slowly than volume', 'null_fp_rate': 0.055, 'null_scenario': 'no_lifecycle', 'null_fp_ci_lower': 0.0278, 'null_fp_ci_upper': 0.0963, 'power': 1.0, 'power_ci_lower': 0.9817, 'power_ci_upper': 1.0, 'n_sims': 200},
        ],
    },
}
