"""The training configs of ``bhpe-train --config NAME`` (one module per recipe, ``get_config()`` -> nested dict).

They are part of the package, so ``bhpe-train --config bihrnet_demo`` works from an installed wheel;
:mod:`bhpe_tf.configs._base` holds the building blocks the recipes share. Listing, loading and the
``--config.key.path=value`` overrides: :mod:`bhpe_tf.training.config`; the table of recipes:
``training/README.md``.
"""
