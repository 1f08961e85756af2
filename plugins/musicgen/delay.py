"""MusicGen's codebook delay pattern, in numpy.

Codebook k is predicted k steps late, so at each step the decoder sees codebook 0 of frame t,
codebook 1 of frame t-1, ... The pattern pads the first k positions of row k (and the last
C-1-k) with the start token. This reproduces ``MusicgenForCausalLM.build_delay_pattern_mask``
(transformers), the function that the exported ``build_delay_pattern_mask.onnx`` traces, with
the same outputs; we compute it here rather than run that file because optimum's export fixes
its sequence axis to the tracing length (16), so it refuses a 1-token start. A parity test
checks this module against transformers' own outputs.
"""

from __future__ import annotations

import numpy as np

UNSET = -1  # a position the decoder still has to predict


def build_delay_pattern(ids: np.ndarray, pad_token_id: int, max_length: int) -> tuple[np.ndarray, np.ndarray]:
    """``ids`` (codebooks, seq) -> (the ids to start decoding from, the pattern (codebooks, max_length)).

    The pattern holds the token each position must have (start/pad token, or a prompt code) and
    ``UNSET`` where the decoder's prediction is kept.
    """
    codebooks, seq = ids.shape
    shifted = np.full((codebooks, max_length), UNSET, dtype=np.int64)
    if max_length < 2 * codebooks - 1:  # too short for any delay: transformers leaves it as it is
        return ids.astype(np.int64), shifted
    for k in range(codebooks):
        shifted[k, k : seq + k] = ids[k, : max(0, min(seq, max_length - k))]
    padded = np.triu(np.ones((codebooks, max_length), dtype=bool), max_length - codebooks + 1)
    padded |= np.tril(np.ones((codebooks, max_length), dtype=bool))
    pattern = np.where(padded, np.int64(pad_token_id), shifted)
    unset = np.flatnonzero(pattern[0] == UNSET)
    first = int(unset[0]) if unset.size else seq
    return pattern[:, :first].copy(), pattern


def apply_delay_pattern(ids: np.ndarray, pattern: np.ndarray) -> np.ndarray:
    """Keep the decoder's tokens where the pattern is unset, the pattern's token elsewhere."""
    fixed = pattern[:, : ids.shape[1]]
    return np.where(fixed == UNSET, ids, fixed)


def undo_delay_pattern(ids: np.ndarray, pad_token_id: int) -> np.ndarray:
    """(codebooks, max_length) delayed ids -> (codebooks, frames) aligned codes, by dropping the
    pad positions (the same count in every row), as transformers does after generating."""
    codebooks = ids.shape[0]
    kept = ids[ids != pad_token_id]
    if kept.size % codebooks:
        raise ValueError("the delayed codes do not line up: a codebook row has a different number of pad tokens")
    return kept.reshape(codebooks, -1)
