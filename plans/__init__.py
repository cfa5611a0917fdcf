"""Plans presets: rewrite an nnU-Net plans file into another topology under a new identifier."""
