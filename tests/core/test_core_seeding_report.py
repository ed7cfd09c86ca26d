import json
import random

import numpy as np
import torch

from dawn import seed_everything
from dawn.core.env import collect_environment, format_environment
from dawn.core.report import Headline, Report, Section


def test_seed_everything_makes_all_generators_repeat():
    g1 = seed_everything(7)
    a = (random.random(), np.random.rand(), torch.rand(1).item(), g1.random())
    g2 = seed_everything(7)
    b = (random.random(), np.random.rand(), torch.rand(1).item(), g2.random())
    assert a == b


def test_environment_has_versions_and_hardware():
    env = collect_environment()
    assert env["cpu_count"] >= 1
    assert env["packages"]["numpy"] == np.__version__
    text = format_environment(env)
    assert "numpy" in text and "cpu" in text


def test_report_writes_json_and_html_with_plot(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sec = Section("demo", headlines=[Headline("speedup", 3.2, 2.7, "x")], tables={"t": [{"a": 1, "b": 0.5}]})
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    sec.add_figure("a line", fig)
    json_path, html_path = Report("r", seed=3, sections=[sec]).write(tmp_path)
    doc = json.loads(json_path.read_text())
    assert doc["seed"] == 3
    assert doc["environment"]["packages"]["dawn"]
    assert doc["sections"][0]["headlines"][0]["ours"] == 3.2
    html = html_path.read_text()
    assert "data:image/png;base64," in html and "speedup" in html and "seed 3" in html
