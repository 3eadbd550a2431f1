"""Super-resolution (Ledig et al. 2017) for a model with `generate(low)` and `discriminate(images)`
(deepzoo/models/srgan.py); batches {"input": low resolution, "target": high resolution}, both in [0, 1].

    SRResNet (adversarial_weight = 0)   one player, the generator:  loss = MSE(G(low), high)
    SRGAN    (adversarial_weight > 0)   the generator's loss = MSE(G(low), high) + adversarial_weight * -log D(G(low))
                                        the discriminator's  = -log D(high) - log(1 - D(G(low)))
as the paper's equations 3 and 6 with the MSE content loss (their SRGAN-MSE; their VGG feature loss needs ImageNet
weights) and their weight 1e-3. As the paper, the MSE is taken on [-1, 1] (high-resolution images are scaled so;
the low-resolution input stays in [0, 1]). The players update in turn (train/step.py, like the GAN's); an SRGAN
run starts its generator from an SRResNet run (config.init_from), as the paper's did.
Evaluation: PSNR and SSIM on the luminance channel with a border of `scale` pixels shaved (image_quality.py), of
the generator's output clipped to [0, 1] and rounded to 8 bits, as an image file would hold it.
"""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from deepzoo.tasks import image_quality
from deepzoo.tasks import metrics as metrics_lib
from deepzoo.tasks.apply import apply_model
from deepzoo.tasks.gan import GAN, to_tanh_range


def to_image(high):
    """The generator's [-1, 1] output -> [0, 1], clipped and rounded to 8 bits."""
    return jnp.round(jnp.clip((high + 1.0) / 2.0, 0.0, 1.0) * 255.0) / 255.0


@dataclasses.dataclass(frozen=True)
class SuperResolution:
    """Pixel MSE (SRResNet), plus the adversarial loss of a discriminator when adversarial_weight > 0 (SRGAN)."""
    adversarial_weight: float = 0.0
    scale: int = 4

    @property
    def players(self) -> tuple:
        """The game's players in the order of their updates: the generator alone for SRResNet."""
        return ("discriminator", "generator") if self.adversarial_weight else ("generator",)

    def inputs(self, batch) -> tuple:
        """The model's positional inputs: (low-resolution images,)."""
        return (batch["input"],)

    def validate(self, output_shape, source, model_name):
        """Fails early, with the fix, when the model's output is not shaped like the targets."""
        example = source.read(np.arange(1))
        if "target" not in example:
            raise ValueError(f"super_resolution needs examples with 'target' (the high-resolution image); "
                             f"the data has {sorted(example)}: use a dataset such as photos_x4.")
        made, wanted = tuple(output_shape["reconstruction"][1:]), tuple(example["target"].shape[1:])
        if made != wanted:
            raise ValueError(f"model {model_name} makes images of shape {made} from the inputs but the targets have "
                             f"shape {wanted}: its scale must be the data's ({self.scale}).")

    def loss(self, model, params, model_state, batch, rngs, player: str = "generator"):
        """(mean loss of `player`, (new model state, metrics)): the generator's mse (and g_adv), the
        discriminator's d_loss, d_real and d_fake (mean D on real and on super-resolved images)."""
        if player not in self.players:
            raise ValueError(f"unknown super-resolution player {player!r}; known: {', '.join(self.players)}.")
        high = to_tanh_range(batch["target"])
        fake, model_state = apply_model(model, params, model_state, (batch["input"],), train=True, rngs=rngs,
                                        method="generate")
        if player == "discriminator":
            real_logits, model_state = GAN._discriminate(model, params, model_state, high, True, rngs)
            fake_logits, model_state = GAN._discriminate(model, params, model_state, jax.lax.stop_gradient(fake), True,
                                                         rngs)
            per_example = jax.nn.softplus(-real_logits) + jax.nn.softplus(fake_logits)
            metrics = {"d_loss": metrics_lib.pair(per_example, 1.0),
                       "d_real": metrics_lib.pair(jax.nn.sigmoid(real_logits), 1.0),
                       "d_fake": metrics_lib.pair(jax.nn.sigmoid(fake_logits), 1.0)}
            return jnp.mean(per_example), (model_state, metrics)
        mse = jnp.mean(jnp.square(fake - high), axis=(1, 2, 3))
        per_example, metrics = mse, {"mse": metrics_lib.pair(mse, 1.0)}
        if self.adversarial_weight:
            fake_logits, model_state = GAN._discriminate(model, params, model_state, fake, True, rngs)
            adversarial = jax.nn.softplus(-fake_logits)
            per_example = mse + self.adversarial_weight * adversarial
            metrics["g_adv"] = metrics_lib.pair(adversarial, 1.0)
        return jnp.mean(per_example), (model_state, metrics)

    def evaluate(self, model, params, model_state, batch):
        """{metric: (sum, count)} over the real examples of `batch` (batch["mask"]): mse (on [-1, 1]) and the
        luminance psnr and ssim."""
        high, weights = batch["target"], batch["mask"]
        fake, _ = apply_model(model, params, model_state, (batch["input"],), train=False, method="generate")
        psnr, ssim = image_quality.y_psnr_ssim(to_image(fake), high, border=self.scale)
        mse = jnp.mean(jnp.square(fake - to_tanh_range(high)), axis=(1, 2, 3))
        return {"mse": metrics_lib.pair(mse, weights), "psnr": metrics_lib.pair(psnr, weights),
                "ssim": metrics_lib.pair(ssim, weights)}
