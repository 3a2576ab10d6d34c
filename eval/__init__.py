"""eval: predict with base and fine-tuned models on held-out medical sets, score and report."""
