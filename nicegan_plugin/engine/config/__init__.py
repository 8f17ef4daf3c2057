"""Config checks and derived keys: what a config states is checked at start-up (typos fail
then, not hours later), and the keys that follow from a data set's values are worked out in
code (:mod:`.derived_keys`), so a config states each value once."""
