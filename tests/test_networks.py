"""SE blocks, SEUNet, the conv-layer order and the hybrid network, on small CPU tensors."""
import pytest
import torch
from dynamic_network_architectures.architectures.unet import PlainConvUNet, ResidualEncoderUNet
from torch import nn

from nnunet_t1t2.networks.conv_layers import conv_layers_from_output, final_classifier, last_conv_layers
from nnunet_t1t2.networks.fusion import FUSIONS, make_fusion
from nnunet_t1t2.networks.hybrid import HybridUNet
from nnunet_t1t2.networks.se_unet import SEUNet
from nnunet_t1t2.networks.squeeze_excitation import SE_MODES, ChannelSE, SpatialSE, SqueezeExcitation

TOPOLOGY = dict(input_channels=1, n_stages=4, features_per_stage=[4, 8, 16, 32], conv_op=nn.Conv3d, kernel_sizes=3,
                strides=[1, 2, 2, 2], n_conv_per_stage=3, num_classes=4, n_conv_per_stage_decoder=3,
                norm_op=nn.BatchNorm3d, nonlin=nn.ReLU, deep_supervision=True)


def seunet(**overrides) -> SEUNet:
    torch.manual_seed(0)
    return SEUNet(**{**TOPOLOGY, **overrides})


@pytest.mark.parametrize("conv_op, shape", [(nn.Conv2d, (2, 6, 9, 7)), (nn.Conv3d, (2, 6, 5, 9, 7))])
def test_channel_and_spatial_gates_have_the_right_shape_and_range(conv_op, shape):
    x = torch.randn(shape)
    channel_gate = ChannelSE(6, conv_op).gate(x)
    spatial_gate = SpatialSE(6, conv_op).gate(x)
    assert channel_gate.shape == (shape[0], 6, *[1] * (len(shape) - 2))
    assert spatial_gate.shape == (shape[0], 1, *shape[2:])
    for gate in (channel_gate, spatial_gate):
        assert ((gate > 0) & (gate < 1)).all()


def test_se_modes_compute_what_they_say():
    torch.manual_seed(0)
    x = torch.randn(2, 6, 5, 6, 7)
    block = SqueezeExcitation(6, nn.Conv3d, "cse_sse")
    sequential = block.sse.gate(block.cse(x)) * block.cse(x)
    torch.testing.assert_close(block(x), sequential)
    concurrent = SqueezeExcitation(6, nn.Conv3d, "scse")
    torch.testing.assert_close(concurrent(x), concurrent.cse(x) + concurrent.sse(x))
    assert SqueezeExcitation(6, nn.Conv3d, "cse").sse is None
    assert SqueezeExcitation(6, nn.Conv3d, "sse").cse is None
    with pytest.raises(ValueError, match="unknown squeeze-and-excitation mode"):
        SqueezeExcitation(6, nn.Conv3d, "se")


def test_seunet_has_an_se_block_after_every_stage_and_gradient_flows_through_them():
    network = seunet()
    stacks = network.conv_stacks()
    assert len(stacks) == 4 + 3  # encoder stages (bottleneck included) and decoder stages
    for stack in stacks:
        assert isinstance(stack.convs[-1], SqueezeExcitation)
        assert sum(isinstance(m, SqueezeExcitation) for m in stack.modules()) == 1
    outputs = network(torch.randn(2, 1, 16, 16, 16))
    assert [o.shape[2:] for o in outputs] == [(16, 16, 16), (8, 8, 8), (4, 4, 4)]
    outputs[0].sum().backward()
    for stack in stacks:
        se = stack.convs[-1]
        for parameter in se.parameters():
            assert parameter.grad is not None and parameter.grad.abs().sum() > 0


@pytest.mark.parametrize("mode", SE_MODES)
def test_seunet_keeps_plainconvunet_parameter_names_so_its_weights_load(mode):
    plain = PlainConvUNet(**TOPOLOGY)
    network = seunet(se_mode=mode)
    extra = set(network.state_dict()) - set(plain.state_dict())
    assert extra and all(".convs.3." in k for k in extra)
    missing, unexpected = network.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and set(missing) == extra


def test_seunet_feature_map_estimate_counts_the_se_maps():
    size = [16, 16, 16]
    assert seunet().compute_conv_feature_map_size(size) > PlainConvUNet(**TOPOLOGY).compute_conv_feature_map_size(size)


def test_conv_layers_are_ordered_from_the_output_backwards():
    network = seunet()
    layers = conv_layers_from_output(network)
    assert len(layers) == 3 * 3 + 3 + 3 * 3  # decoder, bottleneck, encoder
    assert [layer.name for layer in layers[:3]] == [f"decoder.stages.2.convs.{i}" for i in (2, 1, 0)]
    assert layers[0].attached == ("decoder.stages.2.convs.3",)  # SE trains with the stage's last conv
    assert "decoder.transpconvs.2" in layers[2].attached  # upsampling trains with the stage's first conv
    assert [layer.name for layer in layers[9:12]] == [f"encoder.stages.3.0.convs.{i}" for i in (2, 1, 0)]
    assert layers[-1].name == "encoder.stages.0.0.convs.0"
    every_parameter = {n for n, _ in network.named_parameters()}
    covered = {n for n in every_parameter for layer in layers for m in layer.modules if n.startswith(m + ".")}
    assert every_parameter - covered == {n for n in every_parameter if n.startswith("decoder.seg_layers.")}


def test_last_conv_layers_and_final_classifier():
    network = seunet()
    assert final_classifier(network) == "decoder.seg_layers.2"
    assert last_conv_layers(network, 0) == ["decoder.seg_layers"]
    nine = last_conv_layers(network, 9)
    assert all(m.startswith("decoder.") for m in nine)
    assert any(m.startswith("encoder.stages.3") for m in last_conv_layers(network, 12))
    with pytest.raises(Exception, match="has 21"):
        last_conv_layers(network, 22)


def test_conv_layers_of_a_residual_encoder_unet_include_the_stem_and_attach_projections():
    network = ResidualEncoderUNet(1, 4, [4, 8, 16, 32], nn.Conv3d, 3, [1, 2, 2, 2], [1, 2, 2, 2], 4, 2,
                                  norm_op=nn.InstanceNorm3d, nonlin=nn.LeakyReLU)
    layers = conv_layers_from_output(network)
    assert layers[-1].name == "encoder.stem.convs.0"
    assert any(a.endswith(".skip") for layer in layers for a in layer.attached)
    assert all(not layer.name.endswith(".skip.1") for layer in layers)  # 1x1 projections are not conv layers


@pytest.mark.parametrize("fusion", sorted(FUSIONS))
def test_fusions(fusion):
    a, d = torch.rand(2, 4, 3, 3, 3), torch.rand(2, 4, 3, 3, 3)
    fused = make_fusion(fusion, 4, nn.Conv3d)(a, d)
    assert fused.shape == a.shape
    expected = {"mul": a * d, "avg": (a + d) / 2, "max": torch.maximum(a, d)}
    if fusion in expected:
        torch.testing.assert_close(fused, expected[fusion])


def test_hybrid_adapted_encoder_gets_no_gradient_and_builds_no_graph():
    hybrid = HybridUNet(seunet(), seunet(), "concat")
    assert not any(p.requires_grad for p in hybrid.adapted_encoder.parameters())
    seen = []
    hook = hybrid.adapted_encoder.stages[0].register_forward_hook(lambda m, i, o: seen.append(o.requires_grad))
    outputs = hybrid(torch.randn(2, 1, 16, 16, 16))
    hook.remove()
    assert seen == [False]  # no autograd graph inside the adapted encoder
    outputs[0].sum().backward()
    assert all(p.grad is None for p in hybrid.adapted_encoder.parameters())
    assert all(p.grad is not None for p in hybrid.encoder.parameters())
    assert all(p.grad is not None for p in hybrid.fusions.parameters())
