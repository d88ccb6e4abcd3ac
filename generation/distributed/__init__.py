"""Task builds: a config built by many tasks on datatrove (local, Slurm or Ray), straight into the Hub layout."""
