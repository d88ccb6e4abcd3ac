"""Training formats: built rows turned into what training scripts read (TRL's SFT columns)."""
