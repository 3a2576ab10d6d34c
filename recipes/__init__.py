"""recipes: validated full / LoRA / QLoRA / freeze fine-tuning recipes launched through llamafactory-cli."""
