"""medft: fine-tune and evaluate Chinese medical LLMs on top of LLaMA-Factory.

This package holds what bridge/, recipes/ and eval/ share: atomic file writes,
the rich console, project paths and the offline tiny models.
"""

__version__ = "0.1.0"
