"""The country names the alerts use are phonenumbers' own."""

import phonenumbers
from phonenumbers import geocoder

from bot.domain import countries


def test_every_region_is_named_as_the_library_names_it():
    named = 0
    for region in phonenumbers.SUPPORTED_REGIONS:
        example = phonenumbers.example_number(region)
        library = geocoder.country_name_for_number(example, "en") if example else ""
        if library:  # a few regions share their example's calling code, and get no name
            assert countries.name(region) == library, region
            named += 1
    assert named > 230
    assert set(countries.NAMES) <= set(phonenumbers.SUPPORTED_REGIONS)


def test_a_label_has_the_calling_code():
    assert countries.label("GB") == "United Kingdom (+44)"
    assert countries.label("US") == "United States (+1)"
    assert countries.label("ZZ") == "ZZ"
