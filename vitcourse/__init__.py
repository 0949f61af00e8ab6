"""vitcourse: the code of the course "Vision Transformers with Keras".

Every chapter of the book imports this package. Start with::

    import vitcourse
    vitcourse.list_presets()
    model = vitcourse.build_model("course_vit", num_classes=10)
"""

from vitcourse.layers import (
    LocalitySelfAttention,
    Patches,
    PatchEncoder,
    PositionEmbedding,
    ShiftedPatchTokenization,
    TransformerBlock,
)
from vitcourse.presets import build_model, describe, get_preset, list_presets

__version__ = "0.1.0"
