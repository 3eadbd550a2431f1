"""Drawing outputs from trained models: decoding token sequences and sampling generative models."""
