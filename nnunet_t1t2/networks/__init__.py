"""Networks: squeeze-and-excitation blocks, SEUNet, the hybrid dual-encoder network, conv-layer order."""
