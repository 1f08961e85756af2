"""What made a picture, said in the file: IPTC's Digital Source Type in an XMP packet.

Every image Studio writes says whether a model made it, in the vocabulary that photo agencies,
social platforms and the EU AI Act's transparency marks read (IPTC Photo Metadata,
``Iptc4xmpExt:DigitalSourceType``; "AI System Used" from the 2025.1 standard), beside the
generation parameters the file already carries:

- ``trainedAlgorithmicMedia``: a trained model made it (Stable Diffusion and the like);
- ``algorithmicMedia``: an algorithm with no training data made it (the built-in CPPN);
- ``compositeWithTrainedAlgorithmicMedia``: a trained model's picture combined with other
  work: painted over, inpainted into a photo, layered with painted layers;
- ``compositeSynthetic``: the same with only untrained algorithmic pictures in it.

A picture with nothing generated in it makes no claim at all. Each layer keeps the source of
its pixels (``Layer.source``), set by what made it and changed by what is done to it
(painting, merging, flattening: ``combine``); an exported canvas has its visible layers'.
The prompt is left out of the packet (IPTC's ``AIPromptInformation``): it is in the parameters already, where the user
chose to keep it, and a provenance mark should not spread it further.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Optional
from xml.sax.saxutils import quoteattr

VOCABULARY = "http://cv.iptc.org/newscodes/digitalsourcetype/"
TRAINED = "trainedAlgorithmicMedia"
ALGORITHMIC = "algorithmicMedia"
COMPOSITE_TRAINED = "compositeWithTrainedAlgorithmicMedia"
COMPOSITE_SYNTHETIC = "compositeSynthetic"
SOURCE_TYPES = (TRAINED, ALGORITHMIC, COMPOSITE_TRAINED, COMPOSITE_SYNTHETIC)
#: Where PNG keeps an XMP packet (an iTXt chunk of this keyword); JPEG and WebP have their own place.
PNG_XMP_KEY = "XML:com.adobe.xmp"

if TYPE_CHECKING:
    from studio.core.image.document import Layer

#: A layer's ``source``: one of ``SOURCE_TYPES``, or None for a person's work (painted,
#: opened, pasted from another program).
Source = Optional[str]


def combine(sources: Iterable[Source]) -> Source:
    """The source of pixels made of all of ``sources`` together (None: a person's part).

    Pictures of one kind of model alone keep their type; anything mixed in (a person's
    work, another kind of picture, a composite already) makes a composite, trained if a
    trained model had any part in it; a person's work alone makes no claim.
    """
    kinds = list(sources)
    made = {kind for kind in kinds if kind is not None}
    if not made:
        return None
    if len(made) == 1 and None not in kinds and made <= {TRAINED, ALGORITHMIC}:
        return made.pop()
    return COMPOSITE_TRAINED if made & {TRAINED, COMPOSITE_TRAINED} else COMPOSITE_SYNTHETIC


def painted_over(source: Source) -> Source:
    """The source of a layer after a person painted on it."""
    return combine([source, None])


def composite_source(layers: Iterable["Layer"]) -> Source:
    """The source of the visible layers flattened together (empty and hidden ones add nothing)."""
    return combine(layer.source for layer in layers if layer.visible and layer.opacity > 0 and layer.pixels[..., 3].any())


def legacy_source(generator: str) -> Source:
    """A layer saved before layers kept their source: a generator's counts as a trained
    model's (the cautious claim), anything else as a person's."""
    return TRAINED if generator else None


def xmp_packet(source_type: str, system: str = "") -> bytes:
    """An XMP packet saying ``source_type`` (one of ``SOURCE_TYPES``) and the AI system used."""
    if source_type not in SOURCE_TYPES:
        raise ValueError(f"unknown digital source type {source_type!r}")
    system_attr = f"\n   Iptc4xmpExt:AISystemUsed={quoteattr(system[:200])}" if system else ""
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '  <rdf:Description rdf:about=""\n'
        '   xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"\n'
        '   xmlns:xmp="http://ns.adobe.com/xap/1.0/"\n'
        f'   Iptc4xmpExt:DigitalSourceType="{VOCABULARY}{source_type}"\n'
        f'   xmp:CreatorTool="Studio"{system_attr}/>\n'
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    ).encode("utf-8")
