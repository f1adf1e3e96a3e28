import importlib.util
import re
import sys
from pathlib import Path

import numpy as np

from fuse_trt.training.evaluate import Scores

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _report_module():
    spec = importlib.util.spec_from_file_location("make_quality_report",
                                                  DOCS / "make_quality_report.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


def test_quality_report_links_figures_that_exist():
    text = (DOCS / "quality.md").read_text()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert links and all((DOCS / link).is_file() for link in links)


def _results(unet_in_mask: float):
    means = {"naive paste": Scores(30, 15, 17), "seamlessClone": Scores(40, 24, 34),
             "colour transfer": Scores(38, 21, 23), "UNet": Scores(38, unet_in_mask, 30)}
    return {"faces": (means, {"UNet": 0.9})}


def _fusions(module, unet_minus_colour: float):
    tile = np.zeros((2, 2, 3), np.uint8)
    return [module.Fusion("a -> b", "colour", 0.50, 0.4, tile),
            module.Fusion("a -> b", "UNet", 0.50 + unet_minus_colour, 0.4, tile)]


def test_unet_refines_by_default_only_with_the_margin_over_its_input_and_identity_kept():
    module = _report_module()
    assert module.decide(_results(22.5), _fusions(module, 0.0))[0]
    assert not module.decide(_results(21.5), _fusions(module, 0.0))[0]  # under +1 dB
    assert not module.decide(_results(26.0), _fusions(module, -0.05))[0]  # identity falls
    wins, margin, worst = module.decide(_results(22.5), _fusions(module, -0.005))
    assert wins and abs(margin - 1.5) < 1e-9 and abs(worst + 0.005) < 1e-9
