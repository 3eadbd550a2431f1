"""Sorting prompts for RLHF in miniature: the three steps of InstructGPT (Ouyang et al. 2022) on a task whose true
quality a hidden rule scores exactly, so that every policy's real quality can be measured.

    prompt   BOS d_1 ... d_k SEP          k = 3..8 random digits
    answer   the digits sorted ascending, then EOS
    score    the hidden rule, in [0, 1]: the fraction of the k sorted positions the answer gets right, times 0.7
             for each digit it has too many or too few (learners never see it; experiments measure with it)

A "labeller" writes answers with mistakes: each of `edits` random edits swaps two neighbours, replaces, drops or
repeats a digit. Datasets (token ids: PAD 0, EOS 1, BOS 2, digits 4-13, SEP 14; sequences of LENGTH + 1 tokens):
    load("sort_demonstrations", split)   {"tokens"}: prompt and a labeller's answer with 0 or 1 edits (step 1, SFT)
    load("sort_preferences", split)      {"chosen", "rejected"}: two answers to one prompt with 0-3 edits each, the
                                         better by the score preferred, the label flipped with probability NOISE
                                         (step 2, the reward model)
    load("sort_prompts", split)          {"prompt": (n, PROMPT), "digits", "length"}: prompts alone (step 3, PPO)
Deterministic in their seeds; the splits use different seeds.
"""
import numpy as np

PAD, EOS, BOS = 0, 1, 2
DIGIT0, SEP, VOCAB = 4, 14, 15          # digit d is token DIGIT0 + d
LENGTHS = (3, 8)                        # digits per prompt
PROMPT = LENGTHS[1] + 2                 # BOS, digits, SEP: the prompt's tokens, right-padded
LENGTH = PROMPT + 2 * LENGTHS[1]        # prompt and answer (up to twice the digits) and EOS, minus one
NOISE = 0.1                             # the labellers' rate of flipped preferences
WRONG_LENGTH = 0.7                      # the score's factor per digit too many or too few
SPLITS = {"sort_demonstrations": {"train": (20_000, 0), "validation": (1_000, 1)},
          "sort_preferences": {"train": (10_000, 2), "validation": (1_000, 3)},
          "sort_prompts": {"train": (10_000, 4), "test": (1_000, 5)}}


def score(digits, answer) -> float:
    """The hidden rule: a prompt's digits and an answer's digits -> quality in [0, 1]."""
    target = sorted(digits)
    right = sum(a == t for a, t in zip(answer, target))
    return right / len(target) * WRONG_LENGTH ** abs(len(answer) - len(target))


def corrupt(rng, answer: list, edits: int) -> list:
    """`answer` after `edits` random edits: swap two neighbours, replace, drop or repeat a digit."""
    answer = list(answer)
    for _ in range(edits):
        i = int(rng.integers(len(answer)))
        kind = rng.integers(4)
        if kind == 0 and len(answer) > 1:
            j = i + 1 if i + 1 < len(answer) else i - 1
            answer[i], answer[j] = answer[j], answer[i]
        elif kind == 1:
            answer[i] = int(rng.integers(10))
        elif kind == 2 and len(answer) > 1:
            del answer[i]
        else:
            answer.insert(i, answer[i])
    return answer


def encode(digits, answer=None) -> np.ndarray:
    """Token ids: the prompt (padded to PROMPT) without an answer, else prompt, answer, EOS (padded to LENGTH + 1)."""
    tokens = [BOS, *(DIGIT0 + d for d in digits), SEP]
    if answer is None:
        return np.asarray(tokens + [PAD] * (PROMPT - len(tokens)), np.int32)
    tokens += [DIGIT0 + d for d in answer][:LENGTH - len(tokens)] + [EOS]
    return np.asarray(tokens + [PAD] * (LENGTH + 1 - len(tokens)), np.int32)


def decode_answer(tokens, prompt_length: int) -> list:
    """The digits of an answer: the tokens after the prompt, up to EOS (other tokens skipped)."""
    out = []
    for t in np.asarray(tokens)[prompt_length:]:
        if t == EOS:
            break
        if DIGIT0 <= t < DIGIT0 + 10:
            out.append(int(t) - DIGIT0)
    return out


def _prompts(rng, n: int) -> list[list[int]]:
    return [list(rng.integers(0, 10, rng.integers(LENGTHS[0], LENGTHS[1] + 1))) for _ in range(n)]


def load(name: str, split: str) -> dict[str, np.ndarray]:
    """The named dataset's split (module docstring)."""
    if split not in SPLITS[name]:
        raise ValueError(f"{name} has splits {', '.join(SPLITS[name])}; got {split!r}.")
    n, seed = SPLITS[name][split]
    rng = np.random.default_rng(seed)
    prompts = _prompts(rng, n)
    if name == "sort_demonstrations":
        return {"tokens": np.stack([encode(p, corrupt(rng, sorted(p), int(rng.integers(2)))) for p in prompts])}
    if name == "sort_prompts":
        digits = np.full((n, LENGTHS[1]), -1, np.int32)
        for i, p in enumerate(prompts):
            digits[i, :len(p)] = p
        return {"prompt": np.stack([encode(p) for p in prompts]), "digits": digits,
                "length": np.asarray([len(p) for p in prompts], np.int32)}
    chosen, rejected = [], []
    for p in prompts:
        a, b = (corrupt(rng, sorted(p), int(rng.integers(4))) for _ in range(2))
        while a == b:
            b = corrupt(rng, sorted(p), 1 + int(rng.integers(3)))
        better_a = score(p, a) > score(p, b) or (score(p, a) == score(p, b) and rng.random() < 0.5)
        if rng.random() < NOISE:
            better_a = not better_a
        chosen.append(encode(p, a if better_a else b))
        rejected.append(encode(p, b if better_a else a))
    return {"chosen": np.stack(chosen), "rejected": np.stack(rejected)}
