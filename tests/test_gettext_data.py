"""gettext_en_de (gettext_builder.py) on small .mo catalogs written here, never the machine's: the .mo
reader, the rules that make message pairs, the split by the English text, the catalogs recorded in
the metadata, the minimum-count error, and loading through deepzoo.data like numbers_en_de.
"""
import gettext
import hashlib
import os
import re
import struct

import numpy as np
import pytest

from deepzoo.data import gettext_builder, sources, text
from deepzoo.data.gettext_builder import GettextEnDe, clean_pair, parse_mo, split_of


def write_mo(path, messages: dict, charset: str = "UTF-8", byteorder: str = "<"):
    """A GNU .mo catalog of {msgid: msgstr} (plural: "one\\0many", context: "ctx\\x04msgid") with a
    header declaring `charset`, the strings encoded in it. Layout: magic, revision 0, count, the offsets
    of the msgid and msgstr tables (8 bytes per entry: length, offset), no hash table, then the strings,
    NUL-terminated, msgids sorted as msgfmt writes them."""
    entries = {"": f"Content-Type: text/plain; charset={charset}\nLanguage: de\n", **messages}
    items = sorted((k.encode(charset), v.encode(charset)) for k, v in entries.items())
    count = len(items)
    ids_at, strings_at = 28, 28 + 8 * count
    blob, tables = b"", ([], [])
    start = 28 + 16 * count
    for msgid, msgstr in items:
        for table, string in zip(tables, (msgid, msgstr)):
            table.append(struct.pack(byteorder + "2I", len(string), start + len(blob)))
            blob += string + b"\0"
    header = struct.pack(byteorder + "7I", 0x950412DE, 0, count, ids_at, strings_at, 0, start)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(header + b"".join(tables[0]) + b"".join(tables[1]) + blob)
    return path


VERBS = {"open": "öffnen", "close": "schließen", "print": "drucken", "delete": "löschen",
         "rename": "umbenennen", "copy": "kopieren", "move": "verschieben", "save": "speichern"}
NOUNS = {"file": "Datei", "window": "Fenster", "folder": "Ordner", "image": "Bild", "page": "Seite",
         "table": "Tabelle", "list": "Liste", "link": "Verknüpfung", "tab": "Reiter", "note": "Notiz"}
FILLER = {f"Cannot {v} this {n}": f"{nd} kann nicht {vd} werden"
          for v, vd in VERBS.items() for n, nd in NOUNS.items()}   # 80 plain pairs
PLACEHOLDERS = {"Cannot open %s": "%s kann nicht geöffnet werden", "File %s not found": "Datei %s nicht gefunden",
                "Copied %d of %d files": "%d von %d Dateien kopiert", "Deleted %d files": "%d Dateien gelöscht"}

ALPHA = {  # utf-8, read first (sorted by name)
    "Open the file": "Die Datei öffnen",
    "menu\x04_Quit": "_Beenden",                       # context: dropped prefix
    "%d file\0%d files": "%d Datei\0%d Dateien",         # plural: dropped
    "Untranslated message": "Untranslated message",     # identical: dropped
    "Save changes": "Änderungen speichern",             # duplicate English: this one kept
    "%s: %s": "%s : %s",                                # no word: dropped
    "--help": "--hilfe",                                # option name: dropped
    "Copy %1$s to {target}": "%1$s nach {target} kopieren",
    "Line one\n  line\ttwo ": "Zeile eins\n\u00a0Zeile zwei",
    "Empty translation": "",                            # empty: dropped
}
BETA = {  # latin-1, after alpha
    "Save changes": "Änderungen sichern",
    "Size": "Größe",
    "Close": "Schließen",
}
EXPECTED = {  # English -> German of the pairs kept
    "Open the file": "Die Datei öffnen", "_Quit": "_Beenden", "Save changes": "Änderungen speichern",
    "Copy %1$s to {target}": "%1$s nach {target} kopieren", "Line one line two": "Zeile eins Zeile zwei",
    "Size": "Größe", "Close": "Schließen", **FILLER, **PLACEHOLDERS,
}


@pytest.fixture(scope="module")
def locale(tmp_path_factory):
    """A locale directory: de/LC_MESSAGES with alpha (utf-8), beta (latin-1), filler, an ISO list,
    a broken file; a fr catalog and a de_CH one that gettext_en_de must not read."""
    root = tmp_path_factory.mktemp("locale")
    folder = root / "de" / "LC_MESSAGES"
    write_mo(folder / "alpha.mo", ALPHA)
    write_mo(folder / "beta.mo", BETA, charset="ISO-8859-1")
    write_mo(folder / "filler.mo", {**FILLER, **PLACEHOLDERS})
    write_mo(folder / "iso_3166-1.mo", {"Germany": "Deutschland"})
    (folder / "broken.mo").write_bytes(b"\xde\x12\x04\x95" + b"\0" * 4)
    (folder / "README").write_text("not a catalog")
    write_mo(root / "fr" / "LC_MESSAGES" / "alpha.mo", {"Close window": "Fermer la fenêtre"})
    write_mo(root / "de_CH" / "LC_MESSAGES" / "alpha.mo", {"Close window": "Fenster schliessen"})
    return root


@pytest.fixture(scope="module")
def prepared(locale, tmp_path_factory):
    """gettext_en_de prepared through deepzoo.data.load, the catalogs named by the environment."""
    data_dir = str(tmp_path_factory.mktemp("gettext_data"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(gettext_builder.DIRS_VARIABLE, f"{locale}{os.pathsep}{locale}/absent")
        patch.setenv(gettext_builder.MIN_PAIRS_VARIABLE, "50")
        source = sources.load("gettext_en_de", "train", data_dir=data_dir, max_length=48, vocab_size=90,
                              languages=("en", "de"))
    return data_dir, source


def records(data_dir, builder=GettextEnDe):
    data = builder(data_dir=data_dir, file_format="array_record").as_data_source()
    return {split: [{k: v.decode() for k, v in data[split][i].items()} for i in range(len(data[split]))]
            for split in data}


def test_parse_mo_reads_what_python_gettext_reads(locale, tmp_path):
    path = locale / "de" / "LC_MESSAGES" / "alpha.mo"
    with open(path, "rb") as f:
        reference = gettext.GNUTranslations(f)
    charset, messages = parse_mo(path.read_bytes())
    assert charset == "UTF-8" and dict(messages) == ALPHA
    for msgid, msgstr in ALPHA.items():
        if "\0" not in msgid and msgstr:
            assert reference.gettext(msgid) == msgstr
    assert reference.ngettext("%d file", "%d files", 2) == "%d Dateien"
    assert parse_mo((locale / "de" / "LC_MESSAGES" / "beta.mo").read_bytes()) == ("ISO-8859-1", sorted(BETA.items()))
    big = write_mo(tmp_path / "big.mo", {"Close": "Schließen"}, byteorder=">")
    assert parse_mo(big.read_bytes()) == ("UTF-8", [("Close", "Schließen")])
    for data, error in [(b"\x00\x01\x02\x03" + b"\0" * 16, "not a .mo file"),
                        (b"\xde\x12\x04\x95", "shorter than a .mo header"),
                        ((locale / "de" / "LC_MESSAGES" / "broken.mo").read_bytes(), "shorter")]:
        with pytest.raises(ValueError, match=error):
            parse_mo(data)
    wrong = write_mo(tmp_path / "wrong.mo", {"Size": "Größe"}, charset="ISO-8859-1").read_bytes()
    with pytest.raises(ValueError, match="not valid UTF-8 as declared"):
        parse_mo(wrong.replace(b"ISO-8859-1", b"UTF-8     "))
    with pytest.raises(ValueError, match="unknown charset 'KOI9'"):
        parse_mo(wrong.replace(b"ISO-8859-1", b"KOI9      "))
    with pytest.raises(ValueError, match="runs past the end"):
        parse_mo(wrong[:-5])


@pytest.mark.parametrize("msgid,kept", [
    ("Open", True), ("_Quit", True), ("(default)", True), ("Error:", True), ("Don't", True),
    ("Error: %s", True), ("--help display this help and exit", True), ("Usage: %s [OPTION]...", True),
    ("«Größe»", True), ("%s", False), ("%s: %s", False), ("--help", False), ("-a, --all", False),
    ("/etc/passwd", False), ("gtk-ok", False), ("file_name", False), ("org.gnome.Shell", False),
    ("{name}", False), ("%1$s %2$d", False), ("1.0", False), ("x", False), ("N/A", False), ("<b>%s</b>", False),
])
def test_identifier_rule(msgid, kept):
    assert (clean_pair(msgid, "ANDERS")[0] is None) == kept


def test_clean_pair_rules():
    assert clean_pair("one\0many", "eins\0viele")[0] == "plural"
    assert clean_pair("ctx\x04Open  the\nfile", " Datei\u00a0öffnen\n") == (None, "Open the file", "Datei öffnen")
    assert clean_pair("Open", "  ")[0] == "empty"
    assert clean_pair("Open  it", "Open it")[0] == "untranslated"   # identical once whitespace is normalised
    assert clean_pair("Copy %1$s to {target}: %d%%", "x")[1] == "Copy %1$s to {target}: %d%%"


def test_find_catalogs_order_language_and_exclusions(locale, tmp_path):
    other = tmp_path / "langpack"
    write_mo(other / "de" / "LC_MESSAGES" / "zeta.mo", {"Close": "Zumachen"})
    found = gettext_builder.find_catalogs([other, locale, tmp_path / "absent"], "de", ("iso_*",))
    folder = locale / "de" / "LC_MESSAGES"
    assert found == [str(other / "de" / "LC_MESSAGES" / "zeta.mo"),
                     *(str(folder / n) for n in ("alpha.mo", "beta.mo", "broken.mo", "filler.mo"))]
    pairs, report = gettext_builder.collect_pairs(found)
    assert dict((e, t) for e, t, _ in pairs)["Close"] == "Zumachen"   # the first catalog wins


def test_builder_pairs_splits_and_metadata(prepared, locale):
    data_dir, _ = prepared
    splits = records(data_dir)
    assert all(splits[s] for s in ("train", "validation", "test"))
    pairs = {r["en"]: r["de"] for rows in splits.values() for r in rows}
    assert pairs == EXPECTED and sum(map(len, splits.values())) == len(EXPECTED)
    domains = {r["en"]: r["domain"] for rows in splits.values() for r in rows}
    assert domains["Size"] == "beta" and domains["Save changes"] == "alpha" and domains[next(iter(FILLER))] == "filler"
    for split, rows in splits.items():
        assert {split_of(r["en"]) for r in rows} == {split}
    assert split_of("_Open...") == split_of("open") == split_of("OPEN")   # near-duplicates share a split

    metadata = GettextEnDe(data_dir=data_dir).info.metadata   # read back from metadata.json
    folder = locale / "de" / "LC_MESSAGES"
    assert metadata["language"] == "de" and metadata["locale_dirs"] == [str(locale), f"{locale}/absent"]
    assert [c["path"] for c in metadata["catalogs"]] == [str(folder / n) for n in ("alpha.mo", "beta.mo", "filler.mo")]
    for catalog in metadata["catalogs"]:
        assert catalog["sha256"] == hashlib.sha256(open(catalog["path"], "rb").read()).hexdigest()
    assert [(c["charset"], c["messages"], c["pairs"]) for c in metadata["catalogs"]] == [
        ("UTF-8", 10, 5), ("ISO-8859-1", 3, 2), ("UTF-8", 84, 84)]
    assert [(s["path"], s["error"]) for s in metadata["skipped"]] == [(str(folder / "broken.mo"), "8 bytes, shorter than a .mo header")]
    assert metadata["dropped"] == {"duplicate": 1, "empty": 1, "identifier": 2, "plural": 1, "untranslated": 1}
    assert metadata["pairs"] == {split: len(rows) for split, rows in splits.items()}
    # The vocabulary is cached under the catalogs' fingerprint: a corpus rebuilt from others trains its own.
    assert metadata["fingerprint"] == gettext_builder.fingerprint(metadata["catalogs"])
    assert os.listdir(os.path.join(data_dir, "deepzoo_spm"))[0].startswith(
        f"gettext_en_de_1.0.0_{metadata['fingerprint']}_90_")


def test_unreadable_catalogs_are_skipped_and_listed(tmp_path):
    write_mo(tmp_path / "ok.mo", {"Open the file": "Die Datei öffnen"})
    (tmp_path / "dangling.mo").symlink_to(tmp_path / "gone.mo")
    pairs, report = gettext_builder.collect_pairs([str(tmp_path / "dangling.mo"), str(tmp_path / "ok.mo")])
    assert pairs == [("Open the file", "Die Datei öffnen", "ok")]
    assert report["skipped"] == [{"path": str(tmp_path / "dangling.mo"), "sha256": "",
                                  "error": "FileNotFoundError: No such file or directory"}]


def test_a_minimum_that_is_not_a_number_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv(gettext_builder.MIN_PAIRS_VARIABLE, "5k")
    with pytest.raises(ValueError, match=r"\$DEEPZOO_GETTEXT_MIN_PAIRS='5k': give a whole number"):
        GettextEnDe(data_dir=str(tmp_path))


def test_adding_a_catalog_moves_no_pair_to_another_split(prepared, locale, tmp_path):
    data_dir, _ = prepared
    before = {r["en"]: split for split, rows in records(data_dir).items() for r in rows}
    more = tmp_path / "more"
    extra = {f"Cannot {v} the {n} twice": f"{nd} nicht zweimal {vd}" for v, vd in VERBS.items() for n, nd in NOUNS.items()}
    retranslated = {en: de.replace("kann nicht", "lässt sich nicht") for en, de in FILLER.items()}
    write_mo(more / "de" / "LC_MESSAGES" / "aaa.mo", {"Open the file": "Datei öffnen", **retranslated, **extra})
    GettextEnDe(data_dir=str(tmp_path / "data"), file_format="array_record", locale_dirs=[more, locale],
                min_pairs=1).download_and_prepare()
    after = records(str(tmp_path / "data"))
    moved = {r["en"]: split for split, rows in after.items() for r in rows}
    assert set(moved) == set(before) | set(extra)
    assert {e: moved[e] for e in before} == before
    translations = {r["en"]: r["de"] for rows in after.values() for r in rows}   # the new catalog comes first
    assert translations["Open the file"] == "Datei öffnen" and all(translations[e] == retranslated[e] for e in FILLER)


def test_too_few_pairs_fail_saying_where_and_how_to_get_more(locale, tmp_path, monkeypatch):
    monkeypatch.setenv(gettext_builder.DIRS_VARIABLE, f"{locale}:{tmp_path}/absent")
    builder = GettextEnDe(data_dir=str(tmp_path / "data"), file_format="array_record")   # minimum 5,000
    folders = f"{locale}/de/LC_MESSAGES, {tmp_path}/absent/de/LC_MESSAGES (absent)"
    with pytest.raises(ValueError, match=re.escape(f"91 English -> de message pairs in 3 catalogs (1 unreadable) "
                                                   f"under {folders}: fewer than the minimum of 5,000.")
                       + ".*apt-get install language-pack-de"):
        builder.download_and_prepare()
    assert not builder.is_prepared()


def test_load_like_numbers_en_de(prepared):
    data_dir, train = prepared
    assert sources.dataset_kind("gettext_en_de") == sources.dataset_kind("gettext_en_fr") == "translation"
    en = sources.texts("gettext_en_de", "train", "en", data_dir=data_dir)
    de = sources.texts("gettext_en_de", "train", "de", data_dir=data_dir)
    assert len(train) == len(en) == len(de) and train.vocab_size == 90
    batch = train.read(np.arange(len(train)))
    assert batch["source"].shape == batch["target"].shape == (len(train), 48)
    assert np.all(np.sum(batch["target"] == text.EOS, axis=1) == 1)
    assert [train.vocab.decode(row) for row in batch["source"]] == en
    assert [train.vocab.decode(row) for row in batch["target"]] == de
    test = sources.load("gettext_en_de", "test", data_dir=data_dir, max_length=48, vocab_size=90,
                        languages=("de", "en"), cache=False)
    assert len(test) == len(sources.texts("gettext_en_de", "test", "de", data_dir=data_dir))


def test_placeholders_are_pieces_of_their_own(prepared):
    data_dir, train = prepared
    assert all(split_of(e) == "train" for e in PLACEHOLDERS)   # so %s and %d occur 4 and 6 times in its text
    assert gettext_builder.PLACEHOLDER.findall("%.250s, %1$s and %(name)lu of {0}: 50% of %%") == [
        "%.250s", "%1$s", "%(name)lu", "{0}", "%%"]
    vocab = train.vocab
    pieces = [vocab.processor.id_to_piece(i) for i in vocab.encode("Cannot open %s, copied %d")]
    assert "\u2581%s" in pieces and "\u2581%d" in pieces   # SentencePiece alone cuts "%" from "s"
    assert [vocab.processor.id_to_piece(i) for i in vocab.encode("%d%s")] == ["\u2581%d", "%s"]
    assert vocab.decode(vocab.encode("Datei %s %d")) == "Datei %s %d"
