"""deepzoo: pure-function Flax modules, one generic sharded train step, paper reproductions."""
