"""Sampling and stop sequences for the language-model pipeline."""

from __future__ import annotations

import numpy as np

from studio_plugins.text_lm.pipeline import StopMatcher
from studio_plugins.text_lm.sampling import SamplingSettings, next_token, penalise_repetition


def test_greedy_picks_the_largest_logit():
    logits = np.array([0.1, 3.0, -1.0, 2.9], np.float32)
    assert next_token(logits, SamplingSettings(temperature=0.0), np.array([], np.int64), np.random.default_rng(0)) == 1


def test_repetition_penalty_follows_transformers():
    logits = np.array([2.0, -2.0, 1.0], np.float32)
    out = penalise_repetition(logits, np.array([0, 1, 1]), 2.0)
    assert out.tolist() == [1.0, -4.0, 1.0]  # positive divided, negative multiplied, unseen untouched


def test_top_k_top_p_and_min_p_only_ever_draw_allowed_tokens():
    rng = np.random.default_rng(1)
    logits = np.log(np.array([0.5, 0.3, 0.15, 0.05], np.float32))
    none = np.array([], np.int64)
    top_k = {next_token(logits, SamplingSettings(1.0, top_k=2), none, rng) for _ in range(300)}
    assert top_k == {0, 1}
    top_p = {next_token(logits, SamplingSettings(1.0, top_k=0, top_p=0.7), none, rng) for _ in range(300)}
    assert top_p == {0, 1}  # 0.5 alone does not reach 0.7; 0.5 + 0.3 does
    min_p = {next_token(logits, SamplingSettings(1.0, top_k=0, min_p=0.5), none, rng) for _ in range(300)}
    assert min_p == {0, 1}  # 0.15 < 0.5 * 0.5


def test_the_same_seed_draws_the_same_tokens():
    logits = np.random.default_rng(3).standard_normal(100).astype(np.float32)
    settings = SamplingSettings(0.9, top_k=50)
    draw = lambda seed: [next_token(logits, settings, np.array([], np.int64), rng) for rng in [np.random.default_rng(seed)] for _ in range(20)]
    assert draw(7) == draw(7) and draw(7) != draw(8)


def test_stop_sequences_hold_back_a_possible_start_and_cut_at_the_stop():
    matcher = StopMatcher(["\n\n", "THE END"])
    shown = matcher.add("Exit, pursued by a bear.\n")
    assert shown == "Exit, pursued by a bear."  # the newline might start "\n\n"
    shown += matcher.add("Enter ")
    assert shown == "Exit, pursued by a bear.\nEnter " and not matcher.hit
    shown += matcher.add("ROMEO.\n\nJULIET")
    assert matcher.hit and shown == "Exit, pursued by a bear.\nEnter ROMEO." and matcher.text == shown


def test_without_stops_everything_shows_at_once():
    matcher = StopMatcher([])
    assert matcher.add("abc") == "abc" and matcher.rest() == ""
