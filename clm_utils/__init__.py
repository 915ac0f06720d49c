"""CLM Lab: customer-lifecycle-management analyses of transaction data.

The module holds all logic; the notebooks under ``notebooks/`` hold narrative,
parameters, short calls and plots.  See ``README.md`` for the data flow.
"""

from clm_utils.errors import DataError, ModelError, ParameterError, UserError

__version__ = "0.1.0"

__all__ = ["DataError", "ModelError", "ParameterError", "UserError", "__version__"]
