"""Experiments on real data (Kang et al., 2020, Sec. 5): video monitoring, active learning, weak labels."""
