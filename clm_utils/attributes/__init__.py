"""Customer attributes (客户属性): the ``--customers FILE`` table keyed by customer id.

The theory segments customers by who they are (region, personal or business, channel) as well as by what they
buy.  This package reads such a table (:mod:`~clm_utils.attributes.load`), joins it onto the run's customers
without losing anyone silently, and profiles every segment, cluster, tier or stage by attribute with a test per
attribute (:mod:`~clm_utils.attributes.profiles`).

The attribute frame is indexed by ``customer_id`` (text, exactly as the file wrote it; ids written as floats,
``17850.0``, are normalised like the transaction loader does) and holds one column per attribute, typed as
``numeric`` (float64), ``date`` (datetime64, day) or ``categorical`` (text; missing = NaN).  ``attrs["kinds"]``
maps each column to its kind.
"""

from __future__ import annotations

from clm_utils.attributes.load import (
    KINDS,
    JoinCounts,
    attribute_kinds,
    describe_attributes,
    join_attributes,
    load_attributes,
    prepare_attributes,
)
from clm_utils.attributes.profiles import AttributeProfiles, attribute_profiles

__all__ = [
    "KINDS", "AttributeProfiles", "JoinCounts", "attribute_kinds", "attribute_profiles", "describe_attributes",
    "join_attributes", "load_attributes", "prepare_attributes",
]
