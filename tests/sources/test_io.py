from __future__ import annotations

import gzip

import pytest

from slo_analysis.exceptions import InputError, TruncatedInputError
from slo_analysis.sources._io import as_float, as_int, decode_json, read_bytes, to_datetime


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan"), 1.5, "3", True, None])
def test_as_int_rejects_non_integers_naming_the_key(value: object) -> None:
    with pytest.raises(InputError, match="'Period' must be an integer") as info:
        as_int(value, "q.json", "Period")
    assert info.value.key == "Period" and info.value.file == "q.json"


def test_as_int_and_as_float_accept_numbers() -> None:
    assert as_int(300.0, "f", "k") == 300 and as_float(2, "f", "k") == 2.0


def test_truncated_gzip_and_json_name_the_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "page.json.gz"
    path.write_bytes(gzip.compress(b'{"MetricDataResults": []}')[:-8])
    with pytest.raises(TruncatedInputError, match="page.json.gz"):
        read_bytes(path)
    with pytest.raises(TruncatedInputError, match=r"x.json:1"):
        decode_json('{"a": [1, 2', "x.json")


def test_to_datetime_reads_every_aws_timestamp_shape() -> None:
    expected = to_datetime("2014-04-09T18:59:06.419Z")
    assert to_datetime("2014-04-09T18:59:06.419+0000") == expected
    assert to_datetime("2014-04-09 18:59:06.419") == expected  # Logs Insights, UTC without offset
    assert to_datetime(1397069946.419) == expected
    assert to_datetime("2014-04-09T20:59:06.419+02:00") == expected
