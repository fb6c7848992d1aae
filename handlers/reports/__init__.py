"""What the programme reads: weekly digest, mentor summary, targets (may read every feature)."""
