"""The sequence experiments end to end on their smoke configs (slow: each prepares its dataset and
compiles its models), and translation's scoring on hand-made hypotheses."""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sacrebleu

from deepzoo.data import gettext_builder

ROOT = Path(__file__).resolve().parents[1]

# experiments/ is not a package: load translation.py by path (only this one: the drivers share flag names).
_spec = importlib.util.spec_from_file_location("translation", ROOT / "experiments" / "translation.py")
translation = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(translation)


def test_translation_scores_by_input_length():
    english = ["twenty-one", "one thousand, two hundred and three",
               "nine hundred and ninety-nine million, nine hundred and ninety-nine thousand, nine hundred and "
               "ninety-nine"]
    references = ["einundzwanzig", "eintausendzweihundertdrei",
                  "neunhundertneunundneunzig Millionen neunhundertneunundneunzigtausendneunhundertneunundneunzig"]
    hypotheses = ["einundzwanzig", "eintausendzweihundertdrei", "neunhundert Millionen"]
    assert [translation.input_words(e) for e in english] == [1, 6, 14]
    messages = translation.CORPORA["gettext_en_de"]["buckets"]   # the last bucket is open: a --help text of 353 words
    assert [translation.bucket_of(w, messages) for w in (3, 16, 353)] == ["1-3", "16+", "16+"]
    result = translation.score(hypotheses, references, english, translation.CORPORA["numbers"])
    assert result["1-3"] == {"n": 1, "bleu": pytest.approx(100.0), "chrf": pytest.approx(100.0), "exact": 1.0}
    assert result["4-6"]["exact"] == 1.0 and result["13+"]["exact"] == 0.0 and "7-9" not in result
    assert 0 < result["13+"]["bleu"] < 100 and 0 < result["13+"]["chrf"] < 100
    assert result["all"]["n"] == 3 and abs(result["all"]["exact"] - 2 / 3) < 1e-9


def test_translation_scores_cut_pairs_apart_and_references_as_the_tokenizer_reads_them():
    english = ["Open", "Open the file", "Save the file as a copy"]
    references = ["Öffnen …", "Die Datei öffnen", "Die Datei als Kopie speichern"]   # "…" is NFKC "..."
    hypotheses = ["Öffnen ...", "Die Datei öffnen", "Die Datei"]
    gettext = translation.CORPORA["gettext_en_de"]
    result = translation.score(hypotheses, references, english, gettext, fits=np.array([True, True, False]))
    assert result["1-3"]["exact"] == 1.0 and result["1-3"]["n"] == 2   # "Öffnen ..." matches "Öffnen …"
    assert result["cut"] == {"n": 1, "bleu": pytest.approx(sacrebleu.corpus_bleu(["Die Datei"], [[references[2]]]).score),
                             "chrf": pytest.approx(sacrebleu.corpus_chrf(["Die Datei"], [[references[2]]]).score),
                             "exact": 0.0}
    assert "4-6" not in result and result["all"]["n"] == 3


def test_translation_findings_compare_attention_and_the_transformer():
    def rows(model, seconds, bleu):
        return [{"model": model, "decoding": decoding, "bucket": bucket, "bleu": f"{b:.2f}", "steps": "3000",
                 "seconds": str(seconds)} for decoding in ("beam4", "greedy") for bucket, b in bleu.items()]
    table = (rows("none", 600, {"all": 10, "1-3": 20, "16+": 2}) + rows("bahdanau", 1200, {"all": 15, "1-3": 21, "16+": 9})
             + rows("transformer", 900, {"all": 18, "1-3": 22, "16+": 12}))
    lines = translation.findings(table)
    assert lines[2] == ("- bahdanau against none (the same encoder-decoder without attention): +5.0 BLEU over all "
                        "inputs, +1.0 on the shortest (1-3 words), +7.0 on the longest (16+ words); on the longest none "
                        "keeps 10% of the BLEU of its best length, bahdanau 43%.")
    assert lines[3] == ("- The Transformer: 18.0 BLEU against 15.0 for the best recurrent model (bahdanau), after "
                        "3,000 and 3,000 steps, 15 and 20 min of training as logged (each model's step time alone: "
                        "benchmarks/translation_steps.py).")
    assert len(lines) == 4 and translation.findings(rows("luong", 60, {"all": 1})) == []


def run(script, tmp_path, *flags):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, str(ROOT / "experiments" / script), f"--workdir={tmp_path / 'runs'}",
                             f"--output_dir={out}", *flags], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return out


@pytest.mark.slow
def test_translation_experiment_writes_tables_and_figures(tmp_path):
    out = run("translation.py", tmp_path, "--variant=smoke", "--models=none,luong,transformer", "--beam_size=2")
    assert (out / "bleu_by_length.png").read_bytes().startswith(b"\x89PNG")
    assert (out / "attention_luong.png").exists() and not (out / "attention_none.png").exists()
    for kind in ("encoder", "decoder", "cross"):
        assert (out / f"transformer_{kind}_attention.png").read_bytes().startswith(b"\x89PNG")
    table = (out / "results.md").read_text()
    assert "| none, beam 2 |" in table and "| luong, greedy |" in table and "| transformer, beam 2 |" in table
    assert (out / "results.csv").read_text().startswith("model,decoding,bucket,examples,bleu,chrf")
    (out / "results.md").unlink()
    run("translation.py", tmp_path, "--variant=smoke", "--report_only")   # from the CSVs, nothing decoded
    assert (out / "results.md").read_text() == table


@pytest.mark.slow
def test_translation_experiment_runs_on_gettext_catalogs(tmp_path, monkeypatch):
    from test_gettext_data import ALPHA, FILLER, write_mo   # the catalogs of the builder's test, never the machine's
    locale = tmp_path / "locale"
    write_mo(locale / "de" / "LC_MESSAGES" / "alpha.mo", ALPHA)
    write_mo(locale / "de" / "LC_MESSAGES" / "filler.mo", FILLER)
    monkeypatch.setenv(gettext_builder.DIRS_VARIABLE, str(locale))
    monkeypatch.setenv(gettext_builder.MIN_PAIRS_VARIABLE, "50")
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))
    out = run("translation.py", tmp_path, "--corpus=gettext_en_de", "--variant=smoke", "--models=bahdanau",
              "--beam_size=2", "--split=train")   # the test catalogs' few validation and test pairs may be none
    assert (out / "gettext_en_de" / "attention_bahdanau.png").read_bytes().startswith(b"\x89PNG")
    table = (out / "gettext_en_de" / "results.md").read_text()
    assert table.startswith("# English -> German gettext messages (train split)")
    assert "| bahdanau, beam 2 |" in table and "13a tokenizer" in table and "[corpus.md](corpus.md)" in table
    corpus = (out / "gettext_en_de" / "corpus.md").read_text()
    assert f"{len(ALPHA) - 5 + len(FILLER)} English -> German message pairs from 2 gettext catalogs" in corpus
    assert "| train |" in corpus and "| test |" in corpus and "2 identifier" in corpus
    catalogs = (out / "gettext_en_de" / "catalogs.csv").read_text().splitlines()
    assert catalogs[0] == "path,sha256,bytes,charset,messages,pairs" and catalogs[1].startswith(str(locale))


@pytest.mark.slow
def test_char_lm_experiment_reports_bits_and_samples(tmp_path):
    out = run("char_lm.py", tmp_path, "--variant=smoke", "--cells=gru", "--temperatures=0,1", "--sample_length=20")
    assert "| gru |" in (out / "results.md").read_text()
    samples = (out / "samples.md").read_text()
    assert samples.count("## gru, temperature") == 2 and '"""Return the ' in samples
    assert (out / "bits_per_char.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.slow
def test_captioning_experiment_reports_exact_match_and_attention(tmp_path):
    out = run("captioning.py", tmp_path, "--variant=smoke", "--beam_size=2", "--examples=2")
    table = (out / "results.md").read_text()
    assert "| greedy |" in table and "| beam 2 |" in table and "4 digits" in table
    assert (out / "attention.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.slow
def test_masked_lm_experiment_reports_accuracy_baseline_and_fill_ins(tmp_path):
    out = run("masked_lm.py", tmp_path, "--variant=smoke", "--examples=2")
    table = (out / "results.md").read_text()
    assert "| test |" in table and "baseline: most frequent character" in table
    assert table.count("hidden characters restored") == 2
    assert (out / "mlm_curves.png").read_bytes().startswith(b"\x89PNG")
