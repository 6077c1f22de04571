import pytest

from desktop_app.query.bands import Band, price_band


@pytest.mark.parametrize(
    ("pence", "band"),
    [
        (1, Band.CHEAP),
        (499, Band.CHEAP),
        (500, Band.AFFORDABLE),
        (501, Band.AFFORDABLE),
        (4999, Band.AFFORDABLE),
        (5000, Band.AFFORDABLE),
        (5001, Band.EXPENSIVE),
        (100_000_000, Band.EXPENSIVE),
    ],
)
def test_price_band_edges(pence: int, band: Band) -> None:
    assert price_band(pence) is band


def test_band_values_are_the_published_names() -> None:
    assert [b.value for b in Band] == ["cheap", "affordable", "expensive"]
    assert Band("cheap") is Band.CHEAP
    assert str(Band.EXPENSIVE) == "expensive"
