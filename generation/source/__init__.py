"""What every stage reads from a kernel's Python source: the spec it travels as, its features and
structure, Warp's value types by name, module naming, and verbatim text edits. No Warp import."""
