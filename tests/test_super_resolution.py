"""SRResNet/SRGAN (Ledig et al. 2017): the sub-pixel shuffle, the parameter counts, PSNR and SSIM against closed
forms and scikit-image, the photographs' crops and the task's losses."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from skimage.metrics import structural_similarity

from deepzoo import data, models, tasks
from deepzoo.analysis import complexity
from deepzoo.data import photos
from deepzoo.models.srgan import pixel_shuffle
from deepzoo.tasks import image_quality


def test_pixel_shuffle_puts_channel_c_r2_plus_i_r_plus_j_at_pixel_i_j_of_its_block():
    r, x = 2, np.random.default_rng(0).normal(size=(2, 3, 4, 2 * 4)).astype(np.float32)
    want = np.zeros((2, 6, 8, 2), np.float32)
    for c in range(2):
        for i in range(r):
            for j in range(r):
                want[:, i::r, j::r, c] = x[..., c * r * r + i * r + j]
    np.testing.assert_array_equal(np.asarray(pixel_shuffle(jnp.asarray(x), r)), want)


def _count(name, shape, **kwargs):
    model = models.get(name, **kwargs)
    variables = jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.ones((1, *shape))))
    return complexity.count_params(variables["params"])


def test_parameter_counts_follow_figure_4():
    conv = lambda k, cin, cout: k * k * cin * cout + cout
    bn, prelu = 2 * 64, 1
    generator = (conv(9, 3, 64) + prelu + 16 * (2 * conv(3, 64, 64) + 2 * bn + prelu) + conv(3, 64, 64) + bn
                 + 2 * (conv(3, 64, 256) + prelu) + conv(9, 64, 3))
    assert _count("srresnet", (24, 24, 3)) == generator == 1_549_462

    widths = (64, 64, 128, 128, 256, 256, 512, 512)
    convs = conv(3, 3, 64) + sum(conv(3, a, b) + 2 * b for a, b in zip(widths[:-1], widths[1:]))
    for size in (96, 48):
        dense = (size // 16) ** 2 * 512 * 1024 + 1024 + 1024 + 1
        assert _count("srgan_discriminator", (size, size, 3), image_size=size) == convs + dense
    assert convs + 6 * 6 * 512 * 1024 + 2049 == 23_565_505


def test_srresnet_enlarges_four_times_and_rejects_other_scales():
    model = models.get("srresnet", blocks=1)
    x = jnp.ones((1, 5, 7, 3))
    out = jax.eval_shape(lambda: model.init_with_output(jax.random.key(0), x)[0])
    assert out.shape == (1, 20, 28, 3)
    with pytest.raises(ValueError, match="powers of two"):
        models.get("srresnet", scale=3).init(jax.random.key(0), x)


def test_bicubic_skip_starts_at_the_bicubic_enlargement_with_the_same_parameters():
    high = photos.photographs("test")["chelsea"][:64, :96]
    low = photos.reduce(high)[None] / np.float32(255)
    generator = models.get("srresnet", blocks=1, bicubic_skip=True)
    variables = generator.init(jax.random.key(0), jnp.asarray(low))
    started = (np.asarray(generator.apply(variables, jnp.asarray(low))) + 1) / 2
    # PIL's bicubic filter, an independent implementation, rounded to 8 bits
    np.testing.assert_allclose(started[0], photos.enlarge(photos.reduce(high)) / 255, atol=1.5 / 255)
    plain = models.get("srresnet", blocks=1).init(jax.random.key(0), jnp.asarray(low))
    assert complexity.count_params(variables) == complexity.count_params(plain)


def test_luminance_and_psnr_closed_forms():
    white, black = jnp.ones((1, 2, 2, 3)), jnp.zeros((1, 2, 2, 3))
    np.testing.assert_allclose(image_quality.luminance(white), 235 / 255, rtol=1e-6)
    np.testing.assert_allclose(image_quality.luminance(black), 16 / 255, rtol=1e-6)
    a = jnp.full((2, 8, 8, 1), 0.5)
    b = a + jnp.array([0.1, 0.01])[:, None, None, None]
    np.testing.assert_allclose(image_quality.psnr(a, b), [20.0, 40.0], rtol=1e-4)   # -10 log10(d^2)


def test_ssim_matches_scikit_image_and_is_one_for_equal_images():
    rng = np.random.default_rng(0)
    a = rng.uniform(size=(3, 32, 40, 1)).astype(np.float32)
    b = np.clip(a + rng.normal(0, [0.02, 0.1, 0.3], (32, 40, 1, 3)).transpose(3, 0, 1, 2), 0, 1).astype(np.float32)
    ours = np.asarray(image_quality.ssim(jnp.asarray(a), jnp.asarray(b)))
    theirs = [structural_similarity(x[..., 0], y[..., 0], gaussian_weights=True, sigma=1.5,
                                    use_sample_covariance=False, data_range=1.0) for x, y in zip(a, b)]
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    assert ours[0] > ours[1] > ours[2]
    np.testing.assert_allclose(image_quality.ssim(jnp.asarray(a), jnp.asarray(a)), 1.0, atol=1e-6)
    with pytest.raises(ValueError, match="one channel"):
        image_quality.ssim(jnp.ones((1, 32, 32, 3)), jnp.ones((1, 32, 32, 3)))


def test_reduce_tiles_and_crops():
    flat = np.full((2, 16, 24, 3), 77, np.uint8)
    np.testing.assert_array_equal(photos.reduce(flat), np.full((2, 4, 6, 3), 77, np.uint8))
    assert photos.enlarge(photos.reduce(flat)).shape == flat.shape
    with pytest.raises(ValueError, match="multiple"):
        photos.reduce(np.zeros((1, 10, 12, 3), np.uint8))
    image = np.random.default_rng(1).integers(0, 256, (22, 29, 3), np.uint8)    # 5 x 7 tiles of 4 x 4
    t = photos.tiles(image, 4)
    assert t.shape == (35, 4, 4, 3)
    np.testing.assert_array_equal(t[7 + 2], image[4:8, 8:12])     # row 1, column 2
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), np.uint8)
    blank = np.zeros((64, 64, 3), np.uint8)
    crops = photos.random_crops([noise, np.concatenate([blank, noise], 1)], 6, 16, seed=3)
    assert crops.shape == (6, 16, 16, 3) and all(c.std() / 255 >= photos.MIN_STD for c in crops)
    np.testing.assert_array_equal(crops, photos.random_crops([noise, np.concatenate([blank, noise], 1)], 6, 16, seed=3))


def test_photos_test_split_is_tiles_of_photographs_never_used_for_training():
    assert not set(photos.TEST) & {*photos.TRAIN["colour"], *photos.TRAIN["grey"]}
    source = data.load("photos_x4", "test")
    low, high = source.arrays["input"], source.arrays["target"]
    assert high.shape == (85, 96, 96, 3) and low.shape == (85, 24, 24, 3)
    assert high.dtype == low.dtype == np.float32 and 0 <= high.min() and high.max() <= 1
    np.testing.assert_array_equal(high[0], photos.photographs("test")["astronaut"][:96, :96] / np.float32(255))


def test_task_losses_are_the_papers_equations():
    model = models.get("srgan", image_size=32, blocks=1)
    rng = np.random.default_rng(0)
    batch = {"input": jnp.asarray(rng.uniform(size=(2, 8, 8, 3)), jnp.float32),
             "target": jnp.asarray(rng.uniform(size=(2, 32, 32, 3)), jnp.float32)}
    # Random weights drawn here: compiling the initialisers would take most of the test's time.
    shapes = jax.eval_shape(model.init, jax.random.key(0), batch["input"])
    variables = jax.tree.map(lambda s: jnp.asarray(rng.normal(0, 1 / np.sqrt(np.prod(s.shape[:-1]) or 1), s.shape),
                                                   jnp.float32), shapes)
    params, state = variables["params"], {"batch_stats": variables["batch_stats"]}
    srresnet, srgan = tasks.get("super_resolution"), tasks.get("super_resolution", adversarial_weight=1e-3)
    assert srresnet.players == ("generator",) and srgan.players == ("discriminator", "generator")

    @jax.jit
    def run(params):      # one compilation: the model's outputs and the three losses
        apply = lambda x, method: model.apply(variables, x, train=True, method=method, mutable=["batch_stats"])[0]
        fake = apply(batch["input"], "generate")
        loss = lambda task, player: task.loss(model, params, state, batch, {"dropout": jax.random.key(1)},
                                              player=player)[0]
        return (fake, apply(fake, "discriminate")[:, 0], apply(2 * batch["target"] - 1, "discriminate")[:, 0],
                loss(srresnet, "generator"), loss(srgan, "generator"), loss(srgan, "discriminator"))

    fake, d_fake, d_real, mse_loss, generator_loss, discriminator_loss = map(np.asarray, run(params))
    mse = np.mean((fake - (2 * np.asarray(batch["target"]) - 1)) ** 2)
    softplus = lambda z: np.logaddexp(0, z)
    np.testing.assert_allclose(mse_loss, mse, rtol=1e-5)
    np.testing.assert_allclose(generator_loss, mse + 1e-3 * softplus(-d_fake).mean(), rtol=1e-5)
    np.testing.assert_allclose(discriminator_loss, (softplus(-d_real) + softplus(d_fake)).mean(), rtol=1e-5)
    with pytest.raises(ValueError, match="player"):
        srresnet.loss(model, params, state, batch, {"dropout": jax.random.key(1)}, player="discriminator")


@pytest.mark.slow
def test_super_resolution_experiment_writes_its_table_and_figure(run_experiment):
    out = run_experiment("super_resolution.py", "--variant=smoke")
    table = (out / "results.md").read_text()
    assert "| bicubic | 29.08 | 0.8329 |" in table and "| SRResNet |" in table and "| SRGAN |" in table
    assert (out / "super_resolution.png").stat().st_size > 0
