"""English -> X message pairs from the gettext catalogs installed on the machine: real sentences
translated by people (menus, error messages, help texts), a translation corpus that needs no download.

    gettext_en_de   {"en": Text, "de": Text, "domain": Text}   load("gettext_en_de", "train",
    gettext_en_fr   {"en": Text, "fr": Text, "domain": Text}        max_length=48, vocab_size=4000,
                                                                    languages=("en", "de"))

Catalogs: every <dir>/<lang>/LC_MESSAGES/*.mo for <dir> in the locale directories, by default
/usr/share/locale-langpack (Ubuntu's language packs, where present; first, as Ubuntu's gettext reads
it first) then /usr/share/locale; $DEEPZOO_GETTEXT_DIRS (directories separated by ":") or the
builder's `locale_dirs=` replaces that list. Only the directory named exactly <lang> is read (not
de_CH or fr_CA), in the order of the directories, then of the file names. The ISO code lists (the
iso_* domains: names of languages, countries, currencies, scripts) are left out (EXCLUDE_DOMAINS).

The .mo files are read by `parse_mo` (the GNU format: magic, revision, count, two tables of (length,
offset)), in the charset their header declares; a catalog that does not parse or decode is skipped
and listed. Each message becomes a pair by `clean_pair`:
- the header (empty msgid) and plural-form entries (msgid "file\\0files") are dropped: a plural's
  forms follow the target language's rule (form 0 is not "one" in every language), so no single
  translation belongs to the singular English;
- a context prefix ("msgctxt\\x04msgid") is removed, the message kept;
- whitespace is normalised on both sides (runs, newlines and no-break spaces become one space);
- format placeholders (%s, %d, %1$s, %(name)s, {name}, ...: PLACEHOLDER) and menu mnemonics (_Open)
  stay as they are; the translation source's vocabulary keeps each placeholder found 3 times or more in
  the training split as one piece (deepzoo.data.text.sentencepiece_vocab's keep_whole);
- empty and untranslated (target == English) pairs are dropped, and so are pure identifiers: a
  message is kept only if its English has a *word*, a whitespace-separated token of two or more
  letters (apostrophes inside allowed) after opening brackets or quotes and a mnemonic _ or &, before
  closing brackets, quotes or punctuation ("Open", "(default)", "_Quit", "Error:"). Dropped so:
  placeholders ("%s: %s"), option names ("--help", "-a, --all"), paths, file names, snake_case and
  dotted identifiers, numbers and symbols.
The English side is deduplicated: the first translation met in catalog order wins.

Split by the English text only: SHA-256 of its `split_key` (case-folded, punctuation, placeholders'
signs and mnemonics removed, so "Open", "_Open" and "Open..." share a split) mod 100: 0-89 train,
90-94 validation, 95-99 test. Adding catalogs never moves a message to another split (it may change
the translation a message keeps, if the new catalog comes first). Records are keyed by the English.

`info.metadata` (metadata.json beside the prepared data) records the language, the directories read,
each catalog used (path, sha256, size, charset, messages, pairs kept), the catalogs skipped and why,
the counts of messages dropped per rule, and a fingerprint of the catalogs (the SentencePiece vocabulary
is cached under it). Fewer pairs than the minimum (MIN_PAIRS = 5,000; $DEEPZOO_GETTEXT_MIN_PAIRS or
`min_pairs=`) fail with the directories read and how to get more. The dataset is prepared once per data
dir: delete <data_dir>/gettext_en_de to read the catalogs again.

Known limits of version 1.0.0 (measured on Ubuntu's German catalogs, 37,473 pairs): one-word menu items
with a mnemonic inside the word ("C_onnect", "Cu_t") or a hyphen ("Add-ons", "cherry-pick") count as
identifiers (about 30 of the 590 dropped as such; the rest are snake_case names, key names, options);
the split key keeps placeholders' letters and splits words at a mnemonic, so 7 of the 1,876 test
messages have a near twin in train that differs only there ("at character %d").
"""
import codecs
import collections
import fnmatch
import hashlib
import os
import re
import struct

import tensorflow_datasets as tfds

DEFAULT_LOCALE_DIRS = ("/usr/share/locale-langpack", "/usr/share/locale")
DIRS_VARIABLE = "DEEPZOO_GETTEXT_DIRS"
MIN_PAIRS_VARIABLE = "DEEPZOO_GETTEXT_MIN_PAIRS"

_MAGIC = 0x950412DE

# A format placeholder: C's printf (%s, %.250s, %1$s, %lu, %%; no space flag, so "50% of" is none),
# Python's named %(name)s and brace fields {0}, {name}.
PLACEHOLDER = re.compile(r"%(?:\d+\$)?[-+#0']*(?:\d+|\*)?(?:\.(?:\d+|\*))?(?:hh|h|ll|l|L|j|z|t|q)?[diouxXeEfFgGcspS%]"
                         r"|%\([A-Za-z_][\w.]*\)[-+#0]*\d*(?:\.\d+)?(?:ll|l|L)?[a-zA-Z]"
                         r"|\{[\w.]*\}")

# A word: opening brackets/quotes, a mnemonic, letters with apostrophes inside, closing punctuation.
_WORD = re.compile(r"[(\[\"'“‘«„¿¡]*[_&]?[^\W\d_]+(?:['’][^\W\d_]+)*[)\]\"'”’»,.:;!?…]*")


def parse_mo(data: bytes) -> tuple[str, list[tuple[str, str]]]:
    """(charset, [(msgid, msgstr), ...]) of a GNU .mo file's bytes, in file order (msgids sorted), the
    header entry left out. Strings are decoded with the header's charset (none, or the template's
    "CHARSET": UTF-8). Raises ValueError for a file that is not a readable catalog. Revision 1's
    system-dependent strings (<PRIu64> ...) are not read, as Python's gettext does not read them."""
    if len(data) < 20:
        raise ValueError(f"{len(data)} bytes, shorter than a .mo header")
    for order in "<>":
        if struct.unpack(order + "I", data[:4])[0] == _MAGIC:
            break
    else:
        raise ValueError(f"not a .mo file (magic {data[:4].hex()})")
    revision, count, ids_at, strings_at = struct.unpack(order + "4I", data[4:20])
    if revision >> 16 > 1:
        raise ValueError(f"unknown .mo major revision {revision >> 16}")
    raw = []
    try:
        for i in range(count):
            pair = []
            for table in (ids_at, strings_at):
                length, offset = struct.unpack_from(order + "2I", data, table + 8 * i)
                if offset + length > len(data):
                    raise ValueError(f"string {i} runs past the end of the file")
                pair.append(data[offset:offset + length])
            raw.append(tuple(pair))
    except struct.error as e:
        raise ValueError(f"truncated tables: {e}") from None
    header = next((s for m, s in raw if m == b""), b"")
    found = re.search(rb"charset=\s*([^\s;]+)", header)
    charset = found.group(1).decode("ascii", "replace") if found else "UTF-8"
    if charset.upper() == "CHARSET":
        charset = "UTF-8"
    try:
        codecs.lookup(charset)
        return charset, [(m.decode(charset), s.decode(charset)) for m, s in raw if m != b""]
    except LookupError:
        raise ValueError(f"unknown charset {charset!r}") from None
    except UnicodeDecodeError as e:
        raise ValueError(f"not valid {charset} as declared: {e}") from None


def is_word(token: str) -> bool:
    """Whether a whitespace-free token is a word in the sense of the identifier rule (module docstring)."""
    return _WORD.fullmatch(token) is not None and sum(c.isalpha() for c in token) >= 2


def clean_pair(msgid: str, msgstr: str) -> tuple[str | None, str, str]:
    """(reason it is dropped or None, English, translation) of one catalog message (module docstring):
    reasons "plural", "empty", "untranslated", "identifier"."""
    if "\0" in msgid or "\0" in msgstr:
        return "plural", msgid, msgstr
    english = " ".join(msgid.rpartition("\x04")[2].split())  # "context\x04message": the message
    target = " ".join(msgstr.split())
    if not english or not target:
        return "empty", english, target
    if target == english:
        return "untranslated", english, target
    if not any(is_word(t) for t in english.split()):
        return "identifier", english, target
    return None, english, target


def split_key(english: str) -> str:
    """The text whose hash chooses the split: case-folded, runs of non-alphanumeric characters and
    underscores replaced by one space ("_Open..." -> "open")."""
    return " ".join(re.sub(r"[\W_]+", " ", english.casefold()).split())


def split_of(english: str) -> str:
    """"train", "validation" or "test": a function of the English text only (module docstring)."""
    bucket = int(hashlib.sha256(split_key(english).encode("utf-8")).hexdigest(), 16) % 100
    return "train" if bucket < 90 else "validation" if bucket < 95 else "test"


def find_catalogs(locale_dirs, language: str, exclude=()) -> list[str]:
    """The .mo files of <dir>/<language>/LC_MESSAGES for each dir in order, sorted by name within one,
    leaving out domains that match a pattern of `exclude` (fnmatch, e.g. "iso_*")."""
    paths = []
    for directory in locale_dirs:
        folder = os.path.join(directory, language, "LC_MESSAGES")
        if os.path.isdir(folder):
            names = sorted(n for n in os.listdir(folder) if n.endswith(".mo")
                           and not any(fnmatch.fnmatchcase(n[:-3], p) for p in exclude))
            paths += [os.path.join(folder, n) for n in names]
    return paths


def collect_pairs(catalogs) -> tuple[list[tuple[str, str, str]], dict]:
    """([(English, translation, domain), ...] deduplicated on the English, first catalog first, and a
    report: {"catalogs": [{path, sha256, bytes, charset, messages, pairs}], "skipped": [{path,
    sha256, error}], "dropped": {reason: count}} with "duplicate" among the reasons)."""
    pairs, seen = [], set()
    used, skipped, dropped = [], [], collections.Counter()
    for path in catalogs:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:   # a dangling link, a file not readable by this user
            skipped.append({"path": path, "sha256": "", "error": f"{type(e).__name__}: {e.strerror}"})
            continue
        checksum = hashlib.sha256(data).hexdigest()
        try:
            charset, messages = parse_mo(data)
        except ValueError as e:
            skipped.append({"path": path, "sha256": checksum, "error": str(e)})
            continue
        domain = os.path.basename(path)[:-len(".mo")]
        kept = 0
        for msgid, msgstr in messages:
            reason, english, target = clean_pair(msgid, msgstr)
            if reason is None and english in seen:
                reason = "duplicate"
            if reason:
                dropped[reason] += 1
                continue
            seen.add(english)
            pairs.append((english, target, domain))
            kept += 1
        used.append({"path": path, "sha256": checksum, "bytes": len(data), "charset": charset,
                     "messages": len(messages), "pairs": kept})
    return pairs, {"catalogs": used, "skipped": skipped, "dropped": dict(sorted(dropped.items()))}


def fingerprint(catalogs: list[dict]) -> str:
    """What identifies the corpus's content beyond its version: a hash of the catalogs' paths and checksums
    (the vocabulary trained on it is cached under it, so a corpus rebuilt from other catalogs gets its own)."""
    return hashlib.sha256("".join(c["path"] + c["sha256"] for c in catalogs).encode()).hexdigest()[:8]


class GettextPairs(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """English -> LANGUAGE message pairs of the installed gettext catalogs (see the module docstring).

    `locale_dirs` (else $DEEPZOO_GETTEXT_DIRS, else DEFAULT_LOCALE_DIRS) and `min_pairs` (else
    $DEEPZOO_GETTEXT_MIN_PAIRS, else MIN_PAIRS) only matter when the dataset is prepared.
    """

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Non-plural messages with a word, deduplicated on the English, split by its hash."}
    LANGUAGE = ""
    MIN_PAIRS = 5000
    EXCLUDE_DOMAINS = ("iso_*",)

    def __init__(self, *, locale_dirs=None, min_pairs: int | None = None, **kwargs):
        if locale_dirs is None:
            variable = os.environ.get(DIRS_VARIABLE, "")
            locale_dirs = [d for d in variable.split(os.pathsep) if d] if variable else DEFAULT_LOCALE_DIRS
        self.locale_dirs = [os.path.expanduser(str(d)) for d in locale_dirs]
        if min_pairs is None:
            variable = os.environ.get(MIN_PAIRS_VARIABLE, str(self.MIN_PAIRS))
            if not variable.strip().isdigit():
                raise ValueError(f"${MIN_PAIRS_VARIABLE}={variable!r}: give a whole number of pairs, e.g. 1000.")
            min_pairs = int(variable)
        self.min_pairs = min_pairs
        super().__init__(**kwargs)

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            description=f"English -> {self.LANGUAGE} messages of the gettext catalogs installed on the "
                        f"preparing machine (see info.metadata for which).",
            features=tfds.features.FeaturesDict({
                "en": tfds.features.Text(),
                self.LANGUAGE: tfds.features.Text(),
                "domain": tfds.features.Text(),  # the catalog's name: coreutils, gtk30, ...
            }),
            supervised_keys=("en", self.LANGUAGE),
            metadata=tfds.core.MetadataDict(),
            homepage="https://www.gnu.org/software/gettext/manual/html_node/MO-Files.html",
        )

    def _split_generators(self, dl_manager):
        catalogs = find_catalogs(self.locale_dirs, self.LANGUAGE, self.EXCLUDE_DOMAINS)
        pairs, report = collect_pairs(catalogs)
        if len(pairs) < self.min_pairs:
            raise ValueError(self._too_few(len(pairs), report))
        splits = {"train": [], "validation": [], "test": []}
        for pair in pairs:
            splits[split_of(pair[0])].append(pair)
        self.info.metadata.update(
            language=self.LANGUAGE, locale_dirs=self.locale_dirs, exclude_domains=list(self.EXCLUDE_DOMAINS),
            pairs={split: len(p) for split, p in splits.items()}, fingerprint=fingerprint(report["catalogs"]),
            **report)
        return {split: self._generate_examples(p) for split, p in splits.items()}

    def _generate_examples(self, pairs):
        for english, target, domain in pairs:
            yield english, {"en": english, self.LANGUAGE: target, "domain": domain}

    def _too_few(self, count: int, report: dict) -> str:
        folders = ", ".join(os.path.join(d, self.LANGUAGE, "LC_MESSAGES")
                            + ("" if os.path.isdir(os.path.join(d, self.LANGUAGE, "LC_MESSAGES")) else " (absent)")
                            for d in self.locale_dirs)
        lang = self.LANGUAGE
        return (f"{self.name}: {count:,} English -> {lang} message pairs in {len(report['catalogs'])} catalogs "
                f"({len(report['skipped'])} unreadable) under {folders}: fewer than the minimum of "
                f"{self.min_pairs:,}. Catalogs come with the software installed: on Debian each program's "
                f"package ships its translations (install programs with many messages, e.g. `apt-get "
                f"install gimp inkscape gnome-core`; a Docker image may drop them by a path-exclude="
                f"/usr/share/locale/* line in /etc/dpkg/dpkg.cfg.d/: remove it and reinstall), on Ubuntu "
                f"`apt-get install language-pack-{lang} language-pack-gnome-{lang}`. Or point "
                f"${DIRS_VARIABLE} (directories separated by ':') at other locale directories, or lower the "
                f"minimum (${MIN_PAIRS_VARIABLE}).")


class GettextEnDe(GettextPairs):
    """English -> German messages of the installed gettext catalogs (`en`, `de`)."""

    LANGUAGE = "de"


class GettextEnFr(GettextPairs):
    """English -> French messages of the installed gettext catalogs (`en`, `fr`)."""

    LANGUAGE = "fr"


GETTEXT_BUILDERS = {"gettext_en_de": GettextEnDe, "gettext_en_fr": GettextEnFr}
