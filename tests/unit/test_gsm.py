"""Tests of module_utils/city/registry/gsm.py: SMS encoding, units and segments (3GPP TS 23.038)."""
import pytest

from ansible.module_utils.city.registry import gsm

EMOJI = "\U0001F600"      # a surrogate pair in UTF-16
CYR = "\u0439"            # a BMP character outside GSM-7: one UCS-2 unit


def test_alphabet_tables():
    basic = gsm.GSM7_BASIC
    assert len(basic) == 127 == len(set(basic))
    assert len(gsm.GSM7_EXTENSION) == 10 == len(set(gsm.GSM7_EXTENSION))
    assert not set(basic) & set(gsm.GSM7_EXTENSION)
    assert "\x1b" not in basic and "\x1b" not in gsm.GSM7_EXTENSION
    for char in "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà":
        assert char in basic
    for char in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz":
        assert char in basic
    assert set(gsm.GSM7_EXTENSION) == set("^{}\\[~]|€\f")


@pytest.mark.parametrize("char", list(gsm.GSM7_BASIC))
def test_every_basic_char_is_one_septet(char):
    assert gsm.is_gsm7(char) and gsm.units(char) == 1 and gsm.encoding(char) == "GSM-7"


@pytest.mark.parametrize("char", list(gsm.GSM7_EXTENSION))
def test_every_extension_char_is_two_septets(char):
    assert gsm.is_gsm7(char) and gsm.units(char) == 2 and gsm.encoding(char) == "GSM-7"


@pytest.mark.parametrize("char", [
    "ç", "á", "í", "ó", "ú", "â", "`", "\t", "\u00a0", "\u2019", "\u2013", "\u2026",
    "\u20ac\u0301", CYR, "\u00b0", EMOJI, "\ud83d",
])
def test_chars_outside_gsm7(char):
    assert not gsm.is_gsm7(char)
    assert gsm.encoding(char) == "UCS-2"


@pytest.mark.parametrize("text, expected", [
    ("", "GSM-7"),
    ("Rapat koordinasi pukul 08.00 di Aula Bappelitbangda.", "GSM-7"),
    ("Harga: €5 [diskon] {x} ~ | ^ \\", "GSM-7"),
    ("Café Müller @ 10:00", "GSM-7"),
    ("Rapat pukul 08.00 \u2013 selesai", "UCS-2"),
    ("Terima kasih " + EMOJI, "UCS-2"),
])
def test_encoding(text, expected):
    assert gsm.encoding(text) == expected
    assert gsm.is_gsm7(text) is (expected == "GSM-7")


@pytest.mark.parametrize("text, expected", [
    ("", []),
    ("Halo semua", []),
    ("Rapat \u2013 \u2018penting\u2019", [(6, "\u2013"), (8, "\u2018"), (16, "\u2019")]),
    ("a" + EMOJI + "b" + EMOJI, [(1, EMOJI), (3, EMOJI)]),
    ("tab\there", [(3, "\t")]),
    ("ça", [(0, "ç")]),
])
def test_non_gsm_chars(text, expected):
    assert gsm.non_gsm_chars(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("", 0),
    ("abc", 3),
    ("€", 2),
    ("a€b[]", 8),
    ("\f", 2),
    ("é\n\r", 3),
    (CYR * 3, 3),
    (EMOJI, 2),
    ("a" + EMOJI, 3),
    ("€" + CYR, 2),          # in UCS-2 the euro sign is one code unit like any other
    ("\ud83d", 1),           # a lone surrogate is still one code unit
])
def test_units(text, expected):
    assert gsm.units(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("", 0),
    ("a", 1),
    ("a" * 160, 1),
    ("a" * 161, 2),
    ("a" * 306, 2),
    ("a" * 307, 3),
    ("a" * 1530, 10),
    ("€" * 80, 1),                            # 160 septets
    ("€" * 80 + "a", 2),                      # 161 septets
    ("a" * 159 + "€", 2),                     # 161 septets
    ("a" * 158 + "€", 1),                     # exactly 160 septets, escape included
    # An extension character at the 153-septet boundary moves to the next segment:
    ("a" * 152 + "€" + "a" * 151, 2),         # 152 | 2 + 151 = 153
    ("a" * 152 + "€" + "a" * 152, 3),         # 306 septets, yet 152 | 153 | 1
    ("a" * 151 + "€" + "a" * 153, 2),         # 153 | 153: fits exactly
    ("€" * 153, 3),                           # 306 septets, 76 pairs per segment
    (CYR * 70, 1),
    (CYR * 71, 2),
    (CYR * 134, 2),
    (CYR * 135, 3),
    (EMOJI * 35, 1),                          # 70 code units
    (EMOJI * 35 + CYR, 2),                    # 71 code units
    (EMOJI + "a" * 69, 2),                    # 71 code units
    # A surrogate pair at the 67-unit boundary moves to the next segment:
    (CYR * 66 + EMOJI + CYR * 65, 2),         # 66 | 2 + 65 = 67
    (CYR * 66 + EMOJI + CYR * 66, 3),         # 134 units, yet 66 | 67 | 1
    (EMOJI * 67, 3),                          # 134 units, 33 pairs per segment
    ("€" * 35 + CYR, 1),                      # UCS-2: the euro sign is one unit
])
def test_segments(text, expected):
    assert gsm.segments(text) == expected


def test_sms_info():
    text = "Rapat \u2013 pukul 08.00 " + EMOJI
    assert gsm.sms_info(text) == {
        "encoding": "UCS-2",
        "units": len(text) + 1,
        "segments": 1,
        "non_gsm_chars": [(6, "\u2013"), (20, EMOJI)],
    }


@pytest.mark.parametrize("text", [
    "", "a" * 161, "a" * 152 + "€" + "a" * 152, CYR * 66 + EMOJI + CYR * 66, "€ [x]",
])
def test_sms_info_agrees_with_functions(text):
    assert gsm.sms_info(text) == {
        "encoding": gsm.encoding(text),
        "units": gsm.units(text),
        "segments": gsm.segments(text),
        "non_gsm_chars": gsm.non_gsm_chars(text),
    }


def test_str_subclass_accepted():
    class Tagged(str):
        pass
    assert gsm.sms_info(Tagged("a€")) == {
        "encoding": "GSM-7", "units": 3, "segments": 1, "non_gsm_chars": []}


@pytest.mark.parametrize("function", [
    gsm.encoding, gsm.non_gsm_chars, gsm.units, gsm.segments, gsm.sms_info, gsm.is_gsm7,
])
@pytest.mark.parametrize("value", [None, 160, b"abc", ["a"]])
def test_non_strings_rejected(function, value):
    with pytest.raises(ValueError, match="must be a string"):
        function(value)
