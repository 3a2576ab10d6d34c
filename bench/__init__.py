"""Benchmarks: medft side by side with the naive approach, in one run (`make bench`)."""
