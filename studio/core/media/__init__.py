"""The plain values a generator takes and yields: pictures read within limits, ``Audio``, sound files, well-formed text.

Below the engine, so the generator contract and the result check can speak of them, and above
``base``. The documents (image, text, audio) build on these values.
"""
