"""bridge: convert the public medical datasets into LLaMA-Factory alpaca jsonl and register them."""
