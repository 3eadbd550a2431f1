"""Every test sees 8 fake CPU devices (set before JAX starts) and a private TFDS data dir."""
import os
import tempfile

os.environ["XLA_FLAGS"] = " ".join(
    [os.environ.get("XLA_FLAGS", ""), "--xla_force_host_platform_device_count=8"]).strip()
os.environ.setdefault("TFDS_DATA_DIR", tempfile.mkdtemp(prefix="deepzoo_tfds_"))
os.environ.setdefault("JAX_PLATFORMS", "cpu")
