"""LLM-as-judge for eval's predictions: pointwise rubric scores and pairwise comparisons (swapped positions),
with bootstrap CIs and a Bradley–Terry ranking. Rubrics are YAML files in ``eval/judge/rubrics/``."""
