import json
from dataclasses import replace

import numpy as np
import onnxruntime
import torch
from click.testing import CliRunner

from fuse_trt.training.loop import TRAIN_CONFIGS, Trainer
from fuse_trt.commands.train import CONFIG_CHOICES, train_command
from fuse_trt.engine.bundle import Bundle
from fuse_trt.engine.unet import load_fusion_unet


def test_cli_choices_are_the_training_configs():
    assert set(CONFIG_CHOICES) == set(TRAIN_CONFIGS)


def test_the_narrow_config_is_the_default_with_half_the_trunk():
    # benchmarks/model_width/ compares the two as models that differ in the trunk alone
    default, narrow = TRAIN_CONFIGS["default"], TRAIN_CONFIGS["narrow"]
    assert replace(narrow, unet=default.unet) == default
    assert narrow.unet == replace(default.unet, base_width=default.unet.base_width // 2)


def test_colour_phase_trains_only_the_colour_head():
    trainer = Trainer(TRAIN_CONFIGS["tiny"], seed=0)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    colour_only = TRAIN_CONFIGS["tiny"].phases[0]
    assert not colour_only.whole_network
    trainer._run_phase(colour_only, [], 0.0, None)
    changed = {k for k, v in trainer.model.state_dict().items() if not torch.equal(v, before[k])}
    assert changed and all(k.startswith("colour_head.") for k in changed)


def test_a_seed_reproduces_the_weights():
    states = [Trainer(TRAIN_CONFIGS["tiny"], seed=seed).run().model.state_dict()
              for seed in (7, 7, 8)]
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    assert not all(torch.equal(states[0][k], states[2][k]) for k in states[0])


def test_train_command_writes_a_bundle_with_sidecar_and_loss_log(tmp_path):
    result = CliRunner().invoke(train_command, ["-o", str(tmp_path / "a"), "--config", "tiny",
                                                "--seed", "7"])
    assert result.exit_code == 0, result.output
    first = Bundle.load(tmp_path / "a")
    sidecar = json.loads((tmp_path / "a" / "training.json").read_text())
    assert sidecar["config"] == "tiny" and sidecar["seed"] == 7 and sidecar["completed"]
    assert np.isfinite(sidecar["final_loss"])
    log_lines = (tmp_path / "a" / "train_loss.tsv").read_text().splitlines()
    assert len(log_lines) == 1 + sum(p.steps for p in TRAIN_CONFIGS["tiny"].phases)
    # The trained weights moved away from the identity start, and the ONNX runs them.
    model = load_fusion_unet(TRAIN_CONFIGS["tiny"].unet, first.artifact_path("weights", "fp32"))
    feed = first.spec.tier_example_feed(first.tiers.tiers[0])
    with torch.inference_mode():
        expected = model(*(torch.from_numpy(feed[n]) for n in first.spec.input_names)).numpy()
    session = onnxruntime.InferenceSession(str(first.artifact_path("onnx", "fp32")))
    np.testing.assert_allclose(session.run(None, feed)[0], expected, atol=1e-4)
    assert np.abs(expected - feed["composite"]).max() > 1e-4
