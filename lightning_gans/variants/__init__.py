"""GAN variants: one file each, each readable top to bottom like its paper's algorithm box."""
