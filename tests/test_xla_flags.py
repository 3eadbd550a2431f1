"""deepzoo's default XLA flags: added to XLA_FLAGS unless the user set them, and in force in this process."""
import jax
import jax.numpy as jnp

from deepzoo import xla_flags


def test_defaults_are_added_once_and_the_users_own_values_win():
    environ = {"XLA_FLAGS": "--xla_force_host_platform_device_count=8"}
    flags = xla_flags.apply(environ)
    for name, value in xla_flags.DEFAULTS.items():
        assert f"--{name}={value}" in flags.split()
    assert flags.startswith("--xla_force_host_platform_device_count=8 ")
    assert xla_flags.apply(environ) == flags  # applying twice adds nothing
    name = next(iter(xla_flags.DEFAULTS))
    mine = {"XLA_FLAGS": f"--{name}=individual_dot"}
    assert xla_flags.apply(mine) == f"--{name}=individual_dot"
    assert xla_flags.apply({"DEEPZOO_XLA_DEFAULTS": "0"}) == ""


def test_convolutions_run_on_xla_kernels_in_this_process():
    """The tests import deepzoo before JAX starts, as a run does: no convolution is handed to YNNPACK."""
    x, w = jnp.ones((2, 8, 8, 64)), jnp.ones((3, 3, 64, 64))
    conv = jax.jit(lambda x, w: jax.lax.conv_general_dilated(x, w, (1, 1), "SAME",
                                                             dimension_numbers=("NHWC", "HWIO", "NHWC")))
    hlo = conv.lower(x, w).compile().as_text()
    assert "convolution(" in hlo and "ynn" not in hlo
