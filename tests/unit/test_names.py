"""Tests of module_utils/city/registry/names.py: titles, transliteration, local parts."""
import pytest

from ansible.module_utils.city.registry import names


@pytest.mark.parametrize("name, expected", [
    ("Dr. H. Ahmad Fauzi, S.Kom., M.T.", "Ahmad Fauzi"),
    ("Hj. Dewi Ratna Sari, S.E.", "Dewi Ratna Sari"),
    ("Siti Nur'aini", "Siti Nur'aini"),
    ("dr. Siti Rahma, Sp.PD", "Siti Rahma"),
    ("drg. Maya Lestari", "Maya Lestari"),
    ("Drs. Bambang Sutrisno, M.Si.", "Bambang Sutrisno"),
    ("Dra. Ani Yudhoyono", "Ani Yudhoyono"),
    ("Ir. Joko Widodo", "Joko Widodo"),
    ("Prof. Dr. Ir. H. Budi Santoso, M.M., Ph.D.", "Budi Santoso"),
    ("K.H. Ma'ruf Amin", "Ma'ruf Amin"),
    ("KH Ma'ruf Amin", "Ma'ruf Amin"),
    ("Hc. Rudi Hartono", "Rudi Hartono"),
    ("R. Soeprapto", "Soeprapto"),
    ("Rr. Sri Wahyuni", "Sri Wahyuni"),
    ("Ns. Fitri Handayani, S.Kep.", "Fitri Handayani"),
    ("Dr H Ahmad Fauzi", "Ahmad Fauzi"),                # titles without dots
    ("Dr.H.Ahmad Fauzi", "Ahmad Fauzi"),               # titles run together
    ("DR. H. AHMAD FAUZI, S.KOM.", "AHMAD FAUZI"),
    ("Ahmad Fauzi S.Kom M.T", "Ahmad Fauzi"),          # degrees without a comma
    ("Budi Santoso MBA", "Budi Santoso"),
    ("Dr. (HC) Budi Santoso", "Budi Santoso"),
    ("Kol. Budi Santoso (Purn.)", "Budi Santoso"),
    ("Rina Marlina, A.Md.Kep.", "Rina Marlina"),
    ("Tri Adhianto Tjahyono, S.E., M.M.", "Tri Adhianto Tjahyono"),
    ("Agus Salim, Ak., CA", "Agus Salim"),
    ("Yanti, S.Psi.", "Yanti"),
    ("A. Syaikhu", "A. Syaikhu"),                      # a leading initial is the name
    ("M. Yusuf", "M. Yusuf"),
    ("Moh. Rizal, S.T.", "Moh. Rizal"),                # abbreviated given names stay
    ("Muh. Ali", "Muh. Ali"),
    ("Abd. Rahman", "Abd. Rahman"),
    ("Budi S. Santoso", "Budi S. Santoso"),            # inner initials stay
    ("  Budi   Santoso  ", "Budi Santoso"),
    ("Hartono", "Hartono"),
    ("Dr.", ""),
    ("H. Hj.", ""),
    ("", ""),
    (", S.Kom.", ""),
])
def test_strip_titles(name, expected):
    assert names.strip_titles(name) == expected


@pytest.mark.parametrize("text, expected", [
    ("Ma'ruf", "Maruf"),
    ("Ma\u2019ruf", "Maruf"),
    ("Nur\u02bcaini", "Nuraini"),
    ("José Müller", "Jose Muller"),
    ("Çağrı Ñandú", "Cagri Nandu"),
    ("Straße Øst Æbelø", "Strasse Ost AEbelo"),
    ("Łódź đ", "Lodz d"),
    ("ﬁ ①", "fi 1"),                 # compatibility forms decompose
    ("Siti-Nur  Aini", "Siti Nur Aini"),
    ("a.b_c,d", "a b c d"),
    ("  --  ", ""),
    ("张伟", ""),                     # no ASCII form at all
    ("", ""),
])
def test_transliterate(text, expected):
    assert names.transliterate(text) == expected


@pytest.mark.parametrize("name, separator, expected", [
    ("Dr. H. Ahmad Fauzi, S.Kom., M.T.", ".", "ahmad.fauzi"),
    ("Siti Nur'aini", ".", "siti.nuraini"),
    ("Hj. Dewi Ratna Sari, S.E.", ".", "dewi.ratna.sari"),
    ("Hj. Dewi Ratna Sari, S.E.", "_", "dewi_ratna_sari"),
    ("Hj. Dewi Ratna Sari, S.E.", "", "dewiratnasari"),
    ("K.H. Ma'ruf Amin", ".", "maruf.amin"),
    ("A. Syaikhu", ".", "a.syaikhu"),
    ("José Müller-Øst", ".", "jose.muller.ost"),
    ("Hartono", ".", "hartono"),
])
def test_name_to_localpart(name, separator, expected):
    assert names.name_to_localpart(name, separator) == expected


@pytest.mark.parametrize("name", ["", "Dr. H.", "   ", ", S.Kom.", "张伟", "'"])
def test_name_to_localpart_rejects_empty(name):
    with pytest.raises(ValueError, match="no letters or digits"):
        names.name_to_localpart(name)


@pytest.mark.parametrize("function", [
    names.strip_titles, names.transliterate, names.name_tokens, names.name_to_localpart,
])
@pytest.mark.parametrize("value", [None, 42, ["Budi"], b"Budi"])
def test_non_strings_rejected(function, value):
    with pytest.raises(ValueError, match="must be a string"):
        function(value)


def test_name_to_localpart_rejects_bad_separator():
    with pytest.raises(ValueError, match="separator"):
        names.name_to_localpart("Budi Santoso", None)


@pytest.mark.parametrize("name, expected", [
    ("Dr. H. Ahmad Fauzi, S.Kom., M.T.", ["ahmad", "fauzi"]),
    ("Siti Nur'aini", ["siti", "nuraini"]),
    ("Dr. H.", []),
])
def test_name_tokens(name, expected):
    assert names.name_tokens(name) == expected


@pytest.mark.parametrize("localpart, name, expected", [
    ("budi.santoso", "Budi Santoso", True),
    ("budisantoso", "Budi Santoso", True),
    ("b.santoso", "Budi Santoso", True),
    ("bsantoso", "Budi Santoso", True),
    ("budis", "Budi Santoso", True),
    ("santoso.budi", "Budi Santoso", True),
    ("budi", "Budi Santoso", True),
    ("santoso", "Budi Santoso", True),
    ("budi.santoso2", "Budi Santoso", True),
    ("budi_santoso", "Budi Santoso", True),
    ("budi-santoso", "Budi Santoso", True),
    ("Budi.Santoso", "Budi Santoso", True),
    ("budi.s", "Budi Santoso", True),
    ("budi.2", "Budi Santoso", True),
    ("ahmad.fauzi", "Dr. H. Ahmad Fauzi, S.Kom., M.T.", True),
    ("dewi.ratna.sari", "Hj. Dewi Ratna Sari, S.E.", True),
    ("dewiratna.sari", "Hj. Dewi Ratna Sari, S.E.", True),
    ("d.r.sari", "Hj. Dewi Ratna Sari, S.E.", True),
    ("siti.nuraini", "Siti Nur'aini", True),
    ("maruf.amin", "K.H. Ma'ruf Amin", True),
    ("andi.santoso", "Budi Santoso", False),
    ("b.s", "Budi Santoso", False),            # initials only
    ("bs", "Budi Santoso", False),
    ("santosobudi", "Budi Santoso", False),    # concatenation must keep the name's order
    ("budi.santosox", "Budi Santoso", False),
    ("bud.santoso", "Budi Santoso", False),
    ("budi2santoso", "Budi Santoso", False),   # digits inside a token
    ("budi+tag", "Budi Santoso", False),
    ("", "Budi Santoso", False),
    ("12345", "Budi Santoso", False),
    ("...", "Budi Santoso", False),
    ("budi", "Dr. H.", False),                 # a name of titles only
    ("a.syaikhu", "A. Syaikhu", True),
    ("a", "A. Syaikhu", False),                # a one-letter name token is only an initial
])
def test_localpart_matches_name(localpart, name, expected):
    assert names.localpart_matches_name(localpart, name) is expected


@pytest.mark.parametrize("localpart, name", [(None, "Budi"), ("budi", None), (3, "Budi")])
def test_localpart_matches_name_rejects_non_strings(localpart, name):
    with pytest.raises(ValueError, match="must be a string"):
        names.localpart_matches_name(localpart, name)
