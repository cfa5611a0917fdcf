"""Freezing mechanics on a real network: no gradient, eval mode held, unchanged running statistics."""
import pytest
import torch

from nnunet_t1t2.networks.conv_layers import last_conv_layers
from nnunet_t1t2.networks.se_unet import SEUNet
from nnunet_t1t2.training.freezing import (count_parameters, freeze_all_but, frozen_modules,
                                           hold_frozen_modules_in_eval, unwrap)
from test_networks import TOPOLOGY


def test_frozen_part_gets_no_gradient_keeps_its_statistics_and_backward_stops_early():
    torch.manual_seed(0)
    network = SEUNet(**TOPOLOGY)
    freeze_all_but(network, last_conv_layers(network, 3))
    frozen = {k: v.clone() for k, v in network.state_dict().items() if k.startswith("encoder.")}
    assert "encoder" in frozen_modules(network)

    network.train()
    hold_frozen_modules_in_eval(network)
    assert not network.encoder.training and network.decoder.stages[2].training
    assert not network.decoder.stages[0].training  # a frozen decoder stage is held in eval too

    seen_grad = []
    network.encoder.stages[3].register_full_backward_hook(lambda m, gi, go: seen_grad.append(True))
    optimizer = torch.optim.SGD([p for p in network.parameters() if p.requires_grad], lr=0.1)
    sum(o.sum() for o in network(torch.randn(2, 1, 16, 16, 16))).backward()
    optimizer.step()
    assert not seen_grad  # backpropagation never entered the frozen encoder
    for k, v in network.state_dict().items():
        if k in frozen:
            assert torch.equal(v, frozen[k]), k
    assert all(p.grad is None for p in network.encoder.parameters())
    assert all(p.grad is not None for p in network.decoder.seg_layers.parameters())


def test_freeze_uses_canonical_names_despite_the_decoder_encoder_alias():
    network = SEUNet(**TOPOLOGY)
    freeze_all_but(network, ["decoder"])  # dynamic_network_architectures' decoder also holds the encoder
    assert not any(p.requires_grad for p in network.encoder.parameters())
    assert all(p.requires_grad for p in network.decoder.stages.parameters())
    trainable, total = count_parameters(network)
    assert 0 < trainable < total


def test_freeze_rejects_names_that_match_nothing():
    with pytest.raises(ValueError, match="no parameters under"):
        freeze_all_but(SEUNet(**TOPOLOGY), ["decoder.nothing"])


def test_eval_holding_works_through_compile_wrappers():
    network = SEUNet(**TOPOLOGY)
    freeze_all_but(network, ["decoder"])
    compiled = torch.compile(network)
    assert unwrap(compiled) is network
    compiled.train()
    hold_frozen_modules_in_eval(compiled)
    assert not network.encoder.training and network.decoder.training
