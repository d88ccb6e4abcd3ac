"""How generated kernels compare with the kernels Warp ships: builtin vocabulary and code shapes,
for the card and the benches."""
