"""PNG output of matplotlib figures, shared by every chart medft writes."""

from __future__ import annotations

import io


def png_bytes(fig) -> bytes:
    """Lay out ``fig``, render it as PNG bytes and close it.

    No ``Software`` metadata (matplotlib stamps its version there): the same data gives a byte-identical PNG.
    """
    import matplotlib.pyplot as plt

    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()
