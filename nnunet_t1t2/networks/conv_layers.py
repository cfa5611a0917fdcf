"""The conv layers of an nnU-Net U-Net, ordered from the output backwards.

"Retrain the last N conv layers" (the paper's conservative fine-tuning: FC, 3, 6, ... 18) needs one
precise meaning. For any dynamic_network_architectures U-Net (nnU-Net's PlainConvUNet and
ResidualEncoderUNet, and SEUNet) the order is:

1. the segmentation heads ``decoder.seg_layers`` (the paper's "FC"; not counted in N);
2. the decoder stages from the highest resolution to the lowest, each stage's convs last-first;
3. the bottleneck (the last encoder stage), then the encoder stages down to the stem, each
   stage's convs last-first.

A conv layer is a ``ConvDropoutNormReLU`` whose kernel is larger than 1 along some axis: the
convolution together with its norm and nonlinearity. Other modules with parameters train with
the conv layer that feeds them: an SE block or a residual 1x1 projection with the nearest conv layer
before it in its stage (the first one if none precedes it), and a decoder stage's transposed
convolution with that stage's first conv layer. So with the paper's 3 convs per stage, N=3 is
the last decoder stage and its SE block, N=9 the whole decoder, N=12 adds the bottleneck.
"""
from __future__ import annotations

from dataclasses import dataclass

from dynamic_network_architectures.building_blocks.simple_conv_blocks import ConvDropoutNormReLU
from torch import nn

from nnunet_t1t2.errors import UserError

SEG_HEADS = "decoder.seg_layers"


@dataclass(frozen=True)
class ConvLayer:
    name: str  # the ConvDropoutNormReLU module
    attached: tuple[str, ...] = ()  # modules that train with it

    @property
    def modules(self) -> tuple[str, ...]:
        return (self.name, *self.attached)


def _is_conv_layer(module: nn.Module) -> bool:
    return isinstance(module, ConvDropoutNormReLU) and any(k > 1 for k in module.conv.kernel_size)


def _has_parameters(module: nn.Module) -> bool:
    return next(module.parameters(), None) is not None


def _stage_layers(stage: nn.Module, prefix: str) -> list[ConvLayer]:
    """The conv layers of one stage in forward order, with the other parameterised modules attached."""
    layers: list[tuple[str, list[str]]] = []
    before_first: list[str] = []

    def visit(module: nn.Module, name: str) -> None:
        if _is_conv_layer(module):
            layers.append((name, []))
        elif any(_is_conv_layer(m) for m in module.modules()):
            for child_name, child in module.named_children():
                visit(child, f"{name}.{child_name}")
        elif _has_parameters(module):
            (layers[-1][1] if layers else before_first).append(name)

    visit(stage, prefix)
    if not layers:
        raise UserError(f"stage {prefix} has no conv layer")
    layers[0][1][:0] = before_first
    return [ConvLayer(name, tuple(attached)) for name, attached in layers]


def conv_layers_from_output(network: nn.Module) -> list[ConvLayer]:
    """Every conv layer of ``network``, the one closest to the output first (see module docstring)."""
    encoder, decoder = network.encoder, network.decoder
    ordered: list[ConvLayer] = []
    for s in reversed(range(len(decoder.stages))):
        stage = _stage_layers(decoder.stages[s], f"decoder.stages.{s}")
        first = stage[0]
        stage[0] = ConvLayer(first.name, (f"decoder.transpconvs.{s}", *first.attached))
        ordered += reversed(stage)
    for s in reversed(range(len(encoder.stages))):
        ordered += reversed(_stage_layers(encoder.stages[s], f"encoder.stages.{s}"))
    if getattr(encoder, "stem", None) is not None:
        ordered += reversed(_stage_layers(encoder.stem, "encoder.stem"))
    return ordered


def final_classifier(network: nn.Module) -> str:
    """The head that produces the full-resolution segmentation (the paper's "FC")."""
    return f"{SEG_HEADS}.{len(network.decoder.seg_layers) - 1}"


def last_conv_layers(network: nn.Module, n: int) -> list[str]:
    """Module names that train when the last ``n`` conv layers are retrained: all heads plus those layers."""
    layers = conv_layers_from_output(network)
    if not 0 <= n <= len(layers):
        raise UserError(f"cannot retrain the last {n} conv layers: {type(network).__name__} has {len(layers)}")
    return [SEG_HEADS] + [m for layer in layers[:n] for m in layer.modules]
