"""clm_utils.data.read.sniff_text: the layout decisions of read_file, from the first lines only.

Reference: read_file itself on the same text written to a file (the full loader) -- the sniffed
separator and header must lead to the same columns -- plus hand-written cases.
"""

from __future__ import annotations

import pytest

from clm_utils.data.read import read_file, sniff_text

CASES = [
    ("customer_id,date,amount\nA,2024-01-01,10.5\nB,2024-01-02,3\n", ",", True),
    ("kunde;datum;betrag\n1;01.02.2024;3,50\n2;02.02.2024;4,00\n", ";", True),
    ("id\tday\tvalue\n7\t2024-01-01\t1\n", "\t", True),
    ("00001 19970101 1 11.77\n00002 19970112 1 12.00\n", None, False),  # the CDNOW layout
    ('"cust","when","total"\n"A","2024-01-01","9"\n', ",", True),
    ("17850,2024-01-01,10\n13047,2024-01-02,5\n", ",", False),  # no header: the first row is data
]


@pytest.mark.parametrize(("text", "delim", "header"), CASES)
def test_sniff_text_decides_as_read_file(text, delim, header, tmp_path):
    got_delim, got_header, fields = sniff_text(text)
    assert (got_delim, got_header) == (delim, header)
    path = tmp_path / "t.csv"
    path.write_text(text)
    frame, _, first_line, _ = read_file(path)
    assert first_line == (2 if header else 1)
    if header:
        assert list(frame.columns) == fields
    else:
        assert frame.shape[1] == len(fields)


def test_sniff_text_respects_a_given_separator():
    assert sniff_text("a|b|c\n1|2|3\n", sep="|")[0] == "|"
    assert sniff_text("a|b|c\n1|2|3\n", sep="|")[2] == ["a", "b", "c"]


def test_sniff_text_of_blank_text_has_no_fields():
    assert sniff_text("   \n")[2] == []
