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

A picture with nothing generated in it makes no claim at all. The prompt is left out of the
packet (IPTC's ``AIPromptInformation``): it is in the parameters already, where the user
chose to keep it, and a provenance mark should not spread it further.
"""

from __future__ import annotations

from typing import Callable, Iterable
from xml.sax.saxutils import quoteattr

from studio.core.image.document import Layer

VOCABULARY = "http://cv.iptc.org/newscodes/digitalsourcetype/"
TRAINED = "trainedAlgorithmicMedia"
ALGORITHMIC = "algorithmicMedia"
COMPOSITE_TRAINED = "compositeWithTrainedAlgorithmicMedia"
COMPOSITE_SYNTHETIC = "compositeSynthetic"
SOURCE_TYPES = (TRAINED, ALGORITHMIC, COMPOSITE_TRAINED, COMPOSITE_SYNTHETIC)
#: Where PNG keeps an XMP packet (an iTXt chunk of this keyword); JPEG and WebP have their own place.
PNG_XMP_KEY = "XML:com.adobe.xmp"


def composite_source(layers: Iterable[Layer], source_of: Callable[[str], str]) -> str | None:
    """The source type of the visible layers flattened together.

    ``source_of(generator_id)`` is the type that generator's pictures have (a generator no
    longer installed counts as trained: the cautious claim). One untouched generated layer,
    or several from the same kind of model, keep its type; anything else in the picture
    (a painted or imported layer, strokes on a generated one) makes it a composite.
    """
    shown = [layer for layer in layers if layer.visible and layer.opacity > 0 and layer.pixels[..., 3].any()]
    generated = [source_of(layer.generator) for layer in shown if layer.generator]
    if not generated:
        return None
    kinds = set(generated)
    trained = TRAINED in kinds or COMPOSITE_TRAINED in kinds
    pure = len(generated) == len(shown) and not any(layer.painted_over for layer in shown) and len(kinds) == 1
    if pure and kinds <= {TRAINED, ALGORITHMIC}:
        return kinds.pop()
    return COMPOSITE_TRAINED if trained else COMPOSITE_SYNTHETIC


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
