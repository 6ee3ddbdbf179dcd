"""Customer segmentation: discovered clusters, documented rule segments, profiles, stability."""
