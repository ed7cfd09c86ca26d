"""Experiments on real data: video monitoring, active learning and weak supervision (Kang et al., 2020, Sec. 5)."""
